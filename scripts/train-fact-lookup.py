#!/usr/bin/env python3
"""Trains the tiny fact-lookup language model of test/fixtures/context-local/fact-lookup/.

Task: a context of several sentences "<name> lives in <city>." (and a few "<name> likes <food>."
distractors), a query "Where does <name> live?", the answer " <city>." taken from that name's
sentence. Prompts use attrib's default context template:
    Context: {context}\\n\\nQuery: {query}\\n\\nAnswer: {answer}
Tokens: word level (HF tokenizers' Whitespace pre-tokenizer, \\w+|[^\\w\\s]+, and a WordLevel vocab).
Training rows ask up to three questions about their context one after another (loss on the answers
only; more answers per row), AdamW with a one-cycle schedule up to 1e-2, batch 16; the held-out greedy
accuracy is printed and the model saved every 500 steps.
Model: GPT-2 math (2 layers, 4 heads, d_model 64, 96 positions; LayerNorm, learned positions, gelu_new, tied unembedding) with HF GPT-2 weight
names and Conv1D layouts, saved as config.json + model.safetensors (float32) + tokenizer.json.

Run: /usr/bin/python3 scripts/train-fact-lookup.py OUT_DIR [STEPS]   (Debian's python3-torch, CPU)
     /usr/bin/python3 scripts/train-fact-lookup.py --heldout FILE.json  (the 100 held-out questions)
"""
import json, math, random, re, struct, sys

import torch
import torch.nn as nn
import torch.nn.functional as F

NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Nina",
         "Oscar", "Peggy", "Quinn", "Rupert", "Sybil", "Trent", "Ursula", "Victor", "Wendy", "Xavier", "Yara", "Zoe",
         "Liam", "Mia", "Noah", "Olga", "Pablo", "Rosa", "Sven", "Tara"]
CITIES = ["Paris", "London", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Lisbon", "Dublin", "Oslo", "Athens",
          "Warsaw", "Zurich", "Munich", "Milan", "Porto", "Geneva", "Krakow", "Bergen", "Seville", "Lyon", "Turin",
          "Bruges", "Tallinn"]
FOODS = ["tea", "coffee", "bread", "cheese", "apples", "rice", "soup", "fish"]
WORDS = ["[UNK]", "[PAD]", "Context", "Query", "Answer", "Where", "does", "live", "lives", "in", "likes", ":", ".", "?"]
VOCAB = {w: i for i, w in enumerate(WORDS + NAMES + CITIES + FOODS)}
PRE = re.compile(r"\w+|[^\w\s]+")
N_POS = 96


def example(rng):
    """(prompt, answer, index of the supporting sentence, sentences)."""
    k = rng.randint(3, 5)
    names = rng.sample(NAMES, k)
    cities = [rng.choice(CITIES) for _ in names]
    sents = [f"{n} lives in {c}." for n, c in zip(names, cities)]
    for _ in range(rng.randint(0, 1)):
        sents.append(f"{rng.choice(NAMES)} likes {rng.choice(FOODS)}.")
    order = list(range(len(sents)))
    rng.shuffle(order)
    sents = [sents[i] for i in order]
    q = rng.randrange(k)
    support = order.index(q)
    prompt = f"Context: {' '.join(sents)}\n\nQuery: Where does {names[q]} live?\n\nAnswer: "
    return prompt, f"{cities[q]}.", support, sents


def encode(text):
    return [VOCAB.get(t, 0) for t in PRE.findall(text)]


class Block(nn.Module):
    def __init__(s, d, h):
        super().__init__()
        s.h = h
        s.ln_1, s.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        s.c_attn_w, s.c_attn_b = nn.Parameter(torch.randn(d, 3 * d) * 0.02), nn.Parameter(torch.zeros(3 * d))
        s.c_proj_w, s.c_proj_b = nn.Parameter(torch.randn(d, d) * 0.02), nn.Parameter(torch.zeros(d))
        s.fc_w, s.fc_b = nn.Parameter(torch.randn(d, 4 * d) * 0.02), nn.Parameter(torch.zeros(4 * d))
        s.mp_w, s.mp_b = nn.Parameter(torch.randn(4 * d, d) * 0.02), nn.Parameter(torch.zeros(d))

    def forward(s, x):
        b, t, d = x.shape
        q, k, v = (s.ln_1(x) @ s.c_attn_w + s.c_attn_b).split(d, dim=2)
        sh = lambda z: z.view(b, t, s.h, d // s.h).transpose(1, 2)
        a = (sh(q) @ sh(k).transpose(-1, -2)) / math.sqrt(d // s.h)
        a = a.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        x = x + ((a @ sh(v)).transpose(1, 2).reshape(b, t, d) @ s.c_proj_w + s.c_proj_b)
        m = F.gelu(s.ln_2(x) @ s.fc_w + s.fc_b, approximate="tanh")
        return x + (m @ s.mp_w + s.mp_b)


class GPT2(nn.Module):
    def __init__(s, v, d, h, n):
        super().__init__()
        s.wte, s.wpe = nn.Parameter(torch.randn(v, d) * 0.02), nn.Parameter(torch.randn(N_POS, d) * 0.01)
        s.blocks = nn.ModuleList(Block(d, h) for _ in range(n))
        s.ln_f = nn.LayerNorm(d)

    def forward(s, ids):
        x = s.wte[ids] + s.wpe[: ids.shape[1]]
        for blk in s.blocks:
            x = blk(x)
        return s.ln_f(x) @ s.wte.T

    def hf_state(s):
        out = {"wte.weight": s.wte, "wpe.weight": s.wpe, "ln_f.weight": s.ln_f.weight, "ln_f.bias": s.ln_f.bias}
        for i, b in enumerate(s.blocks):
            p = f"h.{i}."
            out.update({p + "ln_1.weight": b.ln_1.weight, p + "ln_1.bias": b.ln_1.bias, p + "ln_2.weight": b.ln_2.weight,
                        p + "ln_2.bias": b.ln_2.bias, p + "attn.c_attn.weight": b.c_attn_w, p + "attn.c_attn.bias": b.c_attn_b,
                        p + "attn.c_proj.weight": b.c_proj_w, p + "attn.c_proj.bias": b.c_proj_b, p + "mlp.c_fc.weight": b.fc_w,
                        p + "mlp.c_fc.bias": b.fc_b, p + "mlp.c_proj.weight": b.mp_w, p + "mlp.c_proj.bias": b.mp_b})
        return {k: v.detach().float().contiguous() for k, v in out.items()}


def save_safetensors(path, tensors):
    header, chunks, off = {}, [], 0
    for name in sorted(tensors):
        raw = tensors[name].numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def batch(rng, n):
    """Each training row asks up to 3 questions about its context, one after another (more answers per
    row); the loss is on the answers only. Evaluation prompts ask one."""
    seqs, masks = [], []
    for _ in range(n):
        prompt, answer, _, sents = example(rng)
        ids, mask = encode(prompt) + encode(answer), None
        mask = [0] * (len(encode(prompt)) - 1) + [1] * len(encode(answer))
        facts = [s for s in sents if " lives in " in s]
        for s in rng.sample(facts, min(2, len(facts))):
            name, city = s.split(" ")[0], s.split(" ")[3].rstrip(".")
            q, a = encode(f"\n\nQuery: Where does {name} live?\n\nAnswer: "), encode(f"{city}.")
            ids += q + a
            mask += [0] * len(q) + [1] * len(a)
        seqs.append(ids)
        masks.append(mask + [0])
    L = max(len(s) for s in seqs)
    return torch.tensor([s + [1] * (L - len(s)) for s in seqs]), torch.tensor([m + [0] * (L - len(m) + 1) for m in masks][:], dtype=torch.float32)[:, : L]


def optimise(opt, sched, loss, step, steps):
    """One optimiser and schedule step on `loss`; the loss printed every 100 steps and at the last."""
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    if step % 100 == 0 or step == steps - 1:
        print(f"step {step} loss {loss.item():.4f}", flush=True)


def main(out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = random.Random(0)
    d, h, n = 64, 4, 2
    model = GPT2(len(VOCAB), d, h, n)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        ids, mask = batch(rng, 16)
        logits = model(ids[:, :-1])
        loss = (F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none") * mask[:, :-1].reshape(-1)).sum() / mask.sum()
        optimise(opt, sched, loss, step, steps)
        if step % 500 == 499:
            evaluate_and_save(model, out, d, h, n)
    evaluate_and_save(model, out, d, h, n)


def evaluate_and_save(model, out, d, h, n):
    # held-out accuracy (greedy city)
    test = random.Random(12345)
    ok = 0
    with torch.no_grad():
        for _ in range(200):
            prompt, answer, _, _ = example(test)
            p = encode(prompt)
            ok += int(model(torch.tensor([p]))[0, -1].argmax().item() == encode(answer)[0])
    print(f"held-out greedy accuracy {ok / 200:.3f}", flush=True)
    save_safetensors(f"{out}/model.safetensors", model.hf_state())
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new", "n_layer": n,
              "n_head": h, "n_embd": d, "n_inner": None, "vocab_size": len(VOCAB), "n_positions": N_POS, "n_ctx": N_POS,
              "layer_norm_epsilon": 1e-5, "scale_attn_weights": True, "tie_word_embeddings": True, "bos_token_id": 1,
              "eos_token_id": 1, "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "torch_dtype": "float32"}
    with open(f"{out}/config.json", "w") as f:
        json.dump(config, f, indent=2)
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
           "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
           "model": {"type": "WordLevel", "vocab": VOCAB, "unk_token": "[UNK]"}}
    with open(f"{out}/tokenizer.json", "w") as f:
        json.dump(tok, f, indent=1)



def heldout(path, count=100, seed=2024):
    """Writes `count` held-out questions (a seed the training never uses): context, query, answer, support."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        _, answer, support, sents = example(rng)
        name = [s.split(" ")[0] for s in sents][support]
        out.append({"context": " ".join(sents), "query": f"Where does {name} live?", "response": answer, "support": support})
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "--heldout":
        heldout(sys.argv[2])
    else:
        main(sys.argv[1])
