#!/usr/bin/env python3
"""The PyTorch side of bench/components.ts: a plain PyTorch GPT-2 (Hugging Face's math and weight names,
Conv1D layouts, gelu_new, LayerNorm eps 1e-5, tied unembedding) that reads the bench's random weights
from its safetensors file and computes what attrib computes:

  atp    AtP over every head's hook_z: a forward of the corrupt run caching z (no grad), a forward of the
         clean run with z retained for grad, M = logits[last, answer] - logits[last, wrong], one backward
         (weights frozen, gradient only w.r.t. activations), score = sum over (pos, d_head) of
         (z_corrupt - z_clean) * dM/dz per head.
  patch  activation patching of every head's hook_z (noising): a corrupt forward caching z, a clean forward
         for M(clean), then one patched run per node, batched as PyTorch users batch them (BATCH runs per
         forward; row r's hook replaces head h of z at layer l with its corrupt value), the whole model
         recomputed, full logits as model(tokens) returns them.

With the suffix "-last" ("atp-last", "patch-last") both unembed the last position only (the metric
reads nothing else), as attrib does with its built-in metrics: a PyTorch user's optimised version.

Protocol: started once with  SETUP.json  (model folder, tokens, corrupt tokens, answer, wrong, threads,
batch); then reads one command per line on stdin ("atp", "patch", "atp-last", "patch-last") and answers one JSON line
{"ms": elapsed milliseconds of the computation, "scores": [layer-major, head-minor]}.
Run by bench/components.ts (npm run bench:components); Debian's python3-torch (CPU).
"""
import json, math, struct, sys, time

import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", name
        a, b = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(raw[base + a:base + b]), dtype=torch.float32).reshape(e["shape"])
    return out


class GPT2:
    def __init__(self, folder):
        with open(folder + "/config.json") as f:
            self.cfg = json.load(f)
        self.w = read_safetensors(folder + "/model.safetensors")
        self.L, self.H, self.d = self.cfg["n_layer"], self.cfg["n_head"], self.cfg["n_embd"]
        self.dh = self.d // self.H

    @staticmethod
    def ln(x, w, b):
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, 1e-5)

    @staticmethod
    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    def forward(self, tokens, z_hook=None, resid_grad=False, last=False):
        """Logits [b, T, vocab] ([b, 1, vocab] when last); z_hook(layer, z) may return a replacement for z [b, T, H, dh]."""
        w, (b, T) = self.w, tokens.shape
        x = w["wte.weight"][tokens] + w["wpe.weight"][:T]
        if resid_grad:
            x = x.detach().requires_grad_(True)
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(self.L):
            p = f"h.{l}."
            h = self.ln(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"])
            qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
            q, k, v = (t.reshape(b, T, self.H, self.dh).transpose(1, 2) for t in qkv.split(self.d, dim=-1))
            pattern = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh) + mask, dim=-1)
            z = (pattern @ v).transpose(1, 2)  # [b, T, H, dh], TransformerLens's hook_z
            if z_hook is not None:
                z = z_hook(l, z)
            x = x + z.reshape(b, T, self.d) @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            h = self.ln(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"])
            x = x + self.gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        if last:
            x = x[:, -1:]
        return self.ln(x, w["ln_f.weight"], w["ln_f.bias"]) @ w["wte.weight"].T


def metric(logits, answer, wrong):
    return logits[:, -1, answer] - logits[:, -1, wrong]


def corrupt_z(model, corrupt, last):
    zs = []
    with torch.no_grad():
        model.forward(corrupt, z_hook=lambda l, z: (zs.append(z), z)[1], last=last)
    return zs


def atp(model, s, last=False):
    zc = corrupt_z(model, s["corrupt"], last)
    zs = []

    def keep(l, z):
        z.retain_grad()
        zs.append(z)
        return z

    m = metric(model.forward(s["clean"], z_hook=keep, resid_grad=True, last=last), s["answer"], s["wrong"]).sum()
    m.backward()
    with torch.no_grad():
        return [((zc[l] - zs[l]) * zs[l].grad).sum(dim=(0, 1, 3)) for l in range(model.L)]


def patch(model, s, last=False):
    with torch.no_grad():
        zc = corrupt_z(model, s["corrupt"], last)
        base = metric(model.forward(s["clean"], last=last), s["answer"], s["wrong"])[0]
        nodes = [(l, h) for l in range(model.L) for h in range(model.H)]
        scores = []
        for start in range(0, len(nodes), s["batch"]):
            chunk = nodes[start:start + s["batch"]]

            def hook(l, z):
                rows = [(r, h) for r, (ll, h) in enumerate(chunk) if ll == l]
                if not rows:
                    return z
                z = z.clone()
                for r, h in rows:
                    z[r, :, h, :] = zc[l][0, :, h, :]
                return z

            logits = model.forward(s["clean"].expand(len(chunk), -1), z_hook=hook, last=last)
            scores.append(metric(logits, s["answer"], s["wrong"]) - base)
        return [torch.cat(scores)]


def main():
    with open(sys.argv[1]) as f:
        setup = json.load(f)
    torch.set_num_threads(setup["threads"])
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    model = GPT2(setup["model"])
    for k in list(model.w):
        model.w[k].requires_grad_(False)
    s = {
        "clean": torch.tensor([setup["tokens"]]),
        "corrupt": torch.tensor([setup["corrupt"]]),
        "answer": setup["answer"],
        "wrong": setup["wrong"],
        "batch": setup["batch"],
    }
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if not cmd:
            continue
        t0 = time.perf_counter()
        kind, _, variant = cmd.partition("-")
        out = {"atp": atp, "patch": patch}[kind](model, s, last=variant == "last")
        ms = (time.perf_counter() - t0) * 1000
        print(json.dumps({"ms": ms, "scores": torch.cat([o.reshape(-1) for o in out]).tolist()}), flush=True)


if __name__ == "__main__":
    main()
