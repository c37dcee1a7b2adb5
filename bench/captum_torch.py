#!/usr/bin/env python3
"""The computations of `npm run bench`'s Captum table, in plain PyTorch, timed on request.

Run by bench/run.ts (not by tests or CI) with Debian's PyTorch (`apt-get install -y python3-torch
python3-onnx`; `/usr/bin/python3`). It loads the reference image CNN from its `.onnx` file (the
weights are the ONNX initializers; the network is rebuilt in torch, NHWC input permuted to NCHW
first, as the ONNX graph does), reads the 8 example inputs and their targets, and then answers one
line per request on stdin: a method id in, the milliseconds of one call out (after the result is
materialised). The bench alternates its own calls with these, so both sides see the same machine.

Each method is written as Captum 0.8 computes it, without Captum's Python bookkeeping (so these
times are at most Captum's): Saliency = |∂F_t/∂x| from one forward and backward; Integrated
Gradients = the 50 Gauss-Legendre path points of all 8 inputs in one batch (400 rows), one backward,
the weighted sum over steps times (x − 0); Occlusion = the 64 4×4×3 windows (stride 4) of all 8
inputs in one forward batch (512 rows, `perturbations_per_eval=64`), differences spread over each
window and divided by the windows covering each pixel; feature ablation = the 16 8×8 blocks (all
channels), 128 rows in one batch. Argument: the number of threads (default 2).
"""
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
MODEL = os.path.join(ROOT, 'test', 'fixtures', 'reference', 'models', 'image_cnn')


class Cnn(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = {k: torch.from_numpy(v.copy()) for k, v in w.items()}

    def forward(self, x):
        w = self.w
        h = x.permute(0, 3, 1, 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, w['m.conv1.weight'], w['m.conv1.bias'], padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, w['m.conv2.weight'], w['m.conv2.bias'], padding=1)), 2)
        h = F.relu(F.linear(h.flatten(1), w['m.fc1.weight'], w['m.fc1.bias']))
        return F.linear(h, w['m.fc2.weight'], w['m.fc2.bias'])


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(MODEL, 'model.onnx')).graph.initializer}
    model = Cnn(weights).eval()
    ex = json.load(open(os.path.join(MODEL, 'examples.json')))
    x = torch.tensor(ex['inputs']['data'], dtype=torch.float32).view(*ex['inputs']['shape'])
    t = torch.tensor(ex['targets'], dtype=torch.long)
    n = x.shape[0]

    nodes, wts = np.polynomial.legendre.leggauss(50)
    alphas = torch.tensor(0.5 * (nodes + 1), dtype=torch.float32)
    steps = torch.tensor(0.5 * wts, dtype=torch.float32)

    def windows(block, stride, size=32):
        masks = []
        for r in range(0, size - block + 1, stride):
            for c in range(0, size - block + 1, stride):
                m = torch.zeros(size, size, 3)
                m[r:r + block, c:c + block, :] = 1
                masks.append(m)
        return torch.stack(masks)

    occ = windows(4, 4)
    occ_count = occ.sum(0).clamp(min=1)
    blocks = windows(8, 8)

    def saliency():
        xi = x.clone().requires_grad_(True)
        out = model(xi).gather(1, t[:, None]).sum()
        (g,) = torch.autograd.grad(out, xi)
        return g.abs()

    def integrated_gradients():
        scaled = torch.cat([a * x for a in alphas]).requires_grad_(True)  # baseline 0
        out = model(scaled).gather(1, t.repeat(len(alphas))[:, None]).sum()
        (g,) = torch.autograd.grad(out, scaled)
        total = (g.view(len(alphas), *x.shape) * steps.view(-1, 1, 1, 1, 1)).sum(0)
        return total * x

    def ablate(masks, count=None):
        with torch.no_grad():
            k = masks.shape[0]
            base = model(x).gather(1, t[:, None]).view(1, n)
            xs = (x[None] * (1 - masks[:, None])).reshape(k * n, *x.shape[1:])
            out = model(xs).view(k, n, -1).gather(2, t.view(1, n, 1).expand(k, n, 1)).view(k, n)
            attr = ((base - out)[:, :, None, None, None] * masks[:, None]).sum(0)
            return attr / count if count is not None else attr

    methods = {
        'saliency': saliency,
        'integrated-gradients': integrated_gradients,
        'occlusion': lambda: ablate(occ, occ_count),
        'feature-ablation': lambda: ablate(blocks),
    }
    for m in methods.values():
        m()  # warm
    print('ready', flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name == 'quit':
            break
        t0 = time.perf_counter()
        r = methods[name]()
        r.sum().item()
        print(f'{(time.perf_counter() - t0) * 1000:.4f}', flush=True)


if __name__ == '__main__':
    main()
