#!/usr/bin/env python3
"""Trains the demo's small GPT-2 on an induction task (models/demo-induction/).

Task: [BOS] r_1 … r_n r_1 … r_n with n random tokens from 1…31 (0 is BOS), n drawn in 4…14 per batch (so
no fixed offset solves it); the loss is on the second copy, where the next token can only be found by
looking back at what followed the previous occurrence of the current token — the task a two-layer
transformer solves with an induction circuit (a previous-token head in layer 0 whose output a layer-1
induction head's keys read).
Model: the GPT-2 math and Hugging Face weight names of scripts/train-fact-lookup.py (imported from there):
2 layers, 2 heads, d_model 64, vocab 32, LayerNorm, learned positions, gelu_new MLP, tied unembedding;
saved as config.json + model.safetensors (float32). AdamW with a one-cycle schedule to 5e-3, batch 32.

Run: /usr/bin/python3 scripts/train-induction.py OUT_DIR [STEPS]   (Debian's python3-torch, CPU, 4000 steps: ~5 min on an idle core)
"""
import importlib.util, json, os, random, sys

import torch
import torch.nn.functional as F

spec = importlib.util.spec_from_file_location("fact_lookup", os.path.join(os.path.dirname(__file__), "train-fact-lookup.py"))
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)

VOCAB, BOS = 32, 0


def batch(rng, rows, n):
    seqs = []
    for _ in range(rows):
        r = [rng.randrange(1, VOCAB) for _ in range(n)]
        seqs.append([BOS] + r + r)
    return torch.tensor(seqs)


def main(out, steps):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = random.Random(0)
    d, h, n = 64, 2, 2
    model = base.GPT2(VOCAB, d, h, n)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        N = rng.randrange(4, 15)
        ids = batch(rng, 32, N)
        logits = model(ids[:, :-1])[:, N + 1:]  # the second copy's r_1 … r_(n−1) predict r_2 … r_n
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), ids[:, N + 2:].reshape(-1))
        base.optimise(opt, sched, loss, step, steps)
    test = random.Random(12345)
    with torch.no_grad():
        N = 10
        ids = batch(test, 200, N)
        acc = (model(ids[:, :-1])[:, N + 1:].argmax(-1) == ids[:, N + 2:]).float().mean().item()
    print(f"held-out accuracy on the repeated half (from its second token) {acc:.3f}", flush=True)
    os.makedirs(out, exist_ok=True)
    base.save_safetensors(f"{out}/model.safetensors", {k: v.detach().float().contiguous() for k, v in model.hf_params().items()})
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new", "n_layer": n,
              "n_head": h, "n_embd": d, "n_inner": None, "vocab_size": VOCAB, "n_positions": base.N_POS, "n_ctx": base.N_POS,
              "layer_norm_epsilon": 1e-5, "scale_attn_weights": True, "tie_word_embeddings": True, "bos_token_id": BOS,
              "eos_token_id": BOS, "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "torch_dtype": "float32"}
    with open(f"{out}/config.json", "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4000)
