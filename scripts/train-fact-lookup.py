#!/usr/bin/env python3
"""Trains the tiny fact-lookup language model of test/fixtures/context-local/fact-lookup/.

Task: a context of 3 to 5 sentences: one resident's "<name> lives in <city>." among "<name> likes
<food>." distractors (half the time one of them about the same person), a query "Where does <name>
live?", the answer "<city>." taken from the one sentence that names a city: the supporting sentence.
Prompts use attrib's default context template:
    Context: {context}\n\nQuery: {query}\n\nAnswer: {answer}
Tokens: word level (HF tokenizers' Whitespace pre-tokenizer, \w+|[^\w\s]+, and a WordLevel vocab).
(An earlier design with 3-5 residents, whose answer needs binding the queried name to its city, stayed
at chance binding, about 30 % greedy accuracy, within the CPU time we had; its ContextCite LDS was 0.79.
`example` is where to bring it back.)
Loss on the answer tokens only; AdamW (betas 0.9/0.98, weight decay 0.01), linear warm-up over 5 % of
the steps then cosine decay, gradient clipping at 1; the held-out greedy accuracy is printed and the
model saved every 300 steps and at the end.
Models (ARCH): "llama" (default; LLaMA math as Hugging Face computes it: RMSNorm, rotary, gated SiLU
MLP, 4 heads, d_model D, 2·D MLP, tied unembedding, 96 positions; HF Llama weight names) or "gpt2" (GPT-2
math with HF GPT-2 weight names and Conv1D layouts), saved as config.json + model.safetensors (float32)
+ tokenizer.json.

Run: /usr/bin/python3 scripts/train-fact-lookup.py OUT_DIR [STEPS] [ARCH] [D_MODEL] [LAYERS] [BATCH] [LR] [INIT_DIR]
       (Debian's python3-torch, CPU, one thread; the committed model: OUT 600 llama 64 2 32 3e-3)
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
ROPE_THETA = 10000.0


def example(rng):
    """(prompt, answer, index of the supporting sentence, sentences). One resident's sentence
    "<name> lives in <city>." among 2 to 4 "<name> likes <food>." distractors (half the time one of
    them about the same person): the supporting sentence is the only one that names a city."""
    names = rng.sample(NAMES, rng.randint(3, 5))
    city = rng.choice(CITIES)
    sents = [f"{names[0]} lives in {city}."] + [f"{n} likes {rng.choice(FOODS)}." for n in names[1:]]
    if rng.random() < 0.5:
        sents[1] = f"{names[0]} likes {rng.choice(FOODS)}."
    order = list(range(len(sents)))
    rng.shuffle(order)
    sents = [sents[i] for i in order]
    support = order.index(0)
    prompt = f"Context: {' '.join(sents)}\n\nQuery: Where does {names[0]} live?\n\nAnswer: "
    return prompt, f"{city}.", support, sents


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

    def hf_params(s):
        out = {"wte.weight": s.wte, "wpe.weight": s.wpe, "ln_f.weight": s.ln_f.weight, "ln_f.bias": s.ln_f.bias}
        for i, b in enumerate(s.blocks):
            p = f"h.{i}."
            out.update({p + "ln_1.weight": b.ln_1.weight, p + "ln_1.bias": b.ln_1.bias, p + "ln_2.weight": b.ln_2.weight,
                        p + "ln_2.bias": b.ln_2.bias, p + "attn.c_attn.weight": b.c_attn_w, p + "attn.c_attn.bias": b.c_attn_b,
                        p + "attn.c_proj.weight": b.c_proj_w, p + "attn.c_proj.bias": b.c_proj_b, p + "mlp.c_fc.weight": b.fc_w,
                        p + "mlp.c_fc.bias": b.fc_b, p + "mlp.c_proj.weight": b.mp_w, p + "mlp.c_proj.bias": b.mp_b})
        return out

    def hf_config(s):
        n, h, d = len(s.blocks), s.blocks[0].h, s.wte.shape[1]
        return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new", "n_layer": n,
                "n_head": h, "n_embd": d, "n_inner": None, "vocab_size": len(VOCAB), "n_positions": N_POS, "n_ctx": N_POS,
                "layer_norm_epsilon": 1e-5, "scale_attn_weights": True, "tie_word_embeddings": True, "bos_token_id": 1,
                "eos_token_id": 1, "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "torch_dtype": "float32"}


class LlamaBlock(nn.Module):
    """LLaMA math as Hugging Face's LlamaDecoderLayer computes it: RMSNorm, rotary q/k (rotate_half), gated SiLU MLP."""
    def __init__(s, d, h, m):
        super().__init__()
        s.h = h
        s.n1, s.n2 = nn.Parameter(torch.ones(d)), nn.Parameter(torch.ones(d))
        s.q, s.k, s.v, s.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        s.gate, s.up, s.down = nn.Linear(d, m, bias=False), nn.Linear(d, m, bias=False), nn.Linear(m, d, bias=False)

    def forward(s, x, cos, sin):
        b, t, d = x.shape
        sh = lambda z: z.view(b, t, s.h, d // s.h).transpose(1, 2)
        y = rms(x, s.n1)
        q, k, v = sh(s.q(y)), sh(s.k(y)), sh(s.v(y))
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        a = (q @ k.transpose(-1, -2)) / math.sqrt(d // s.h)
        a = a.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        x = x + s.o((a @ v).transpose(1, 2).reshape(b, t, d))
        y = rms(x, s.n2)
        return x + s.down(F.silu(s.gate(y)) * s.up(y))


def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Llama(nn.Module):
    def __init__(s, v, d, h, n, m):
        super().__init__()
        s.d, s.h = d, h
        s.embed = nn.Parameter(torch.randn(v, d) * 0.02)
        s.blocks = nn.ModuleList(LlamaBlock(d, h, m) for _ in range(n))
        s.norm = nn.Parameter(torch.ones(d))
        dh = d // h
        inv = 1.0 / (ROPE_THETA ** (torch.arange(0, dh, 2).float() / dh))
        f = torch.outer(torch.arange(N_POS).float(), inv)
        e = torch.cat((f, f), dim=-1)
        s.register_buffer("cos", e.cos(), persistent=False)
        s.register_buffer("sin", e.sin(), persistent=False)

    def forward(s, ids):
        t = ids.shape[1]
        x = s.embed[ids]
        for blk in s.blocks:
            x = blk(x, s.cos[:t], s.sin[:t])
        return rms(x, s.norm) @ s.embed.T

    def hf_params(s):
        out = {"model.embed_tokens.weight": s.embed, "model.norm.weight": s.norm}
        for i, b in enumerate(s.blocks):
            p = f"model.layers.{i}."
            out.update({p + "input_layernorm.weight": b.n1, p + "post_attention_layernorm.weight": b.n2,
                        p + "self_attn.q_proj.weight": b.q.weight, p + "self_attn.k_proj.weight": b.k.weight,
                        p + "self_attn.v_proj.weight": b.v.weight, p + "self_attn.o_proj.weight": b.o.weight,
                        p + "mlp.gate_proj.weight": b.gate.weight, p + "mlp.up_proj.weight": b.up.weight,
                        p + "mlp.down_proj.weight": b.down.weight})
        return out

    def hf_config(s):
        return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": s.d, "num_attention_heads": s.h,
                "num_key_value_heads": s.h, "num_hidden_layers": len(s.blocks), "intermediate_size": s.blocks[0].up.out_features,
                "vocab_size": s.embed.shape[0], "max_position_embeddings": N_POS, "rms_norm_eps": 1e-6, "rope_theta": ROPE_THETA,
                "rope_scaling": None, "hidden_act": "silu", "tie_word_embeddings": True, "attention_bias": False,
                "bos_token_id": 1, "eos_token_id": 1, "torch_dtype": "float32"}


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[name] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=torch.float32).reshape(v["shape"])
    return out


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
    """Each training row asks its question and then one about every other resident of its context, one
    after another (none in the one-resident task); the loss is on the answers only."""
    seqs, masks = [], []
    for _ in range(n):
        prompt, answer, support, sents = example(rng)
        ids, mask = encode(prompt) + encode(answer), None
        mask = [0] * (len(encode(prompt)) - 1) + [1] * len(encode(answer))
        facts = [s for i, s in enumerate(sents) if " lives in " in s and i != support]
        for s in rng.sample(facts, len(facts)):
            name, city = s.split(" ")[0], s.split(" ")[3].rstrip(".")
            q, a = encode(f"\n\nQuery: Where does {name} live?\n\nAnswer: "), encode(f"{city}.")
            ids += q + a
            mask += [0] * len(q) + [1] * len(a)
        seqs.append(ids)
        masks.append(mask + [0])
    L = max(len(s) for s in seqs)
    return torch.tensor([s + [1] * (L - len(s)) for s in seqs]), torch.tensor([m + [0] * (L - len(m) + 1) for m in masks][:], dtype=torch.float32)[:, : L]


def optimise(opt, sched, loss, step, steps, clip_params=None):
    """One optimiser and schedule step on `loss` (gradients clipped to norm 1 when `clip_params` is
    given); the loss printed every 100 steps and at the last."""
    opt.zero_grad()
    loss.backward()
    if clip_params is not None:
        torch.nn.utils.clip_grad_norm_(clip_params, 1.0)
    opt.step()
    sched.step()
    if step % 100 == 0 or step == steps - 1:
        print(f"step {step} loss {loss.item():.4f}", flush=True)


def main(out, steps, arch, d, n, bs, lr, init=None):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = random.Random(0)
    h = 4
    model = Llama(len(VOCAB), d, h, n, 2 * d) if arch == "llama" else GPT2(len(VOCAB), d, h, n)
    if init:  # continue from a saved model (same architecture)
        weights = load_safetensors(f"{init}/model.safetensors")
        with torch.no_grad():
            for name, p in model.hf_params().items():
                p.copy_(weights[name])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    # linear warm-up over 5 % of the steps, then cosine decay to 0
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0, s - warm) / max(1, steps - warm)))))
    for step in range(steps):
        ids, mask = batch(rng, bs)
        logits = model(ids[:, :-1])
        loss = (F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none") * mask[:, :-1].reshape(-1)).sum() / mask.sum()
        optimise(opt, sched, loss, step, steps, model.parameters())
        if step % 300 == 299:
            evaluate_and_save(model, out)
    evaluate_and_save(model, out)


def evaluate_and_save(model, out):
    # held-out accuracy (greedy city)
    test = random.Random(12345)
    ok = 0
    with torch.no_grad():
        for _ in range(200):
            prompt, answer, _, _ = example(test)
            p = encode(prompt)
            ok += int(model(torch.tensor([p]))[0, -1].argmax().item() == encode(answer)[0])
    print(f"held-out greedy accuracy {ok / 200:.3f}", flush=True)
    save_safetensors(f"{out}/model.safetensors", {k: v.detach().float().contiguous() for k, v in model.hf_params().items()})
    config = model.hf_config()
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
        a = sys.argv[2:]
        arg = lambda i, dflt, f: f(a[i]) if len(a) > i else dflt
        # OUT [STEPS] [ARCH llama|gpt2] [D_MODEL] [LAYERS] [BATCH] [LR] [INIT_DIR]
        main(sys.argv[1], arg(0, 3000, int), arg(1, "llama", str), arg(2, 64, int), arg(3, 2, int), arg(4, 32, int), arg(5, 3e-3, float), arg(6, None, str))
