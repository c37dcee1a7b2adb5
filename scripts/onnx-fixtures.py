#!/usr/bin/env python3
"""Writes the tiny real ONNX exports under test/fixtures/onnx/ (PyTorch's exporter, fixed seeds).

Run with Debian's PyTorch: `apt-get install -y python3-torch python3-onnx`, then
`/usr/bin/python3 scripts/onnx-fixtures.py`. Each model is a few kilobytes; the test
src/models/onnx/fixtures.test.ts checks their gradients against finite differences.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')


class Mobile(nn.Module):
    """MobileNetV3-style: conv-bn-hardswish, depthwise conv, squeeze-excite with hardsigmoid, nearest upsample."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.se1 = nn.Conv2d(8, 4, 1)
        self.se2 = nn.Conv2d(4, 8, 1)
        self.fc = nn.Linear(8 * 16 * 16, 5)

    def forward(self, x):
        h = F.hardswish(self.bn(self.stem(x)))
        h = F.relu(self.dw(h))
        s = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(h, 1)))))
        h = h * s
        h = F.interpolate(h, scale_factor=2.0, mode='nearest')
        return self.fc(torch.flatten(h, 1))


class Attention(nn.Module):
    """One transformer block: layer norm, fused q/k/v split on axis 0 after a permute, softmax, GELU MLP."""

    def __init__(self, d=8, heads=2):
        super().__init__()
        self.heads = heads
        self.ln = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.mlp = nn.Linear(d, d)
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        b, s, d = x.shape
        qkv = self.qkv(self.ln(x)).reshape(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        h = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.proj(h)
        x = x + self.mlp(F.gelu(x))
        return self.head(x.mean(dim=1))


class Unet(nn.Module):
    """Encoder-decoder with bilinear upsampling (align_corners False) and a skip connection, fixed batch of 1."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(1, 4, 3, padding=1)
        self.mid = nn.Conv2d(4, 4, 3, padding=1)
        self.dec = nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, x):
        e = torch.relu(self.enc(x))
        m = torch.sigmoid(self.mid(F.max_pool2d(e, 2)))
        u = F.interpolate(m, scale_factor=2.0, mode='bilinear', align_corners=False)
        return self.dec(torch.cat([e, u], dim=1)).mean(dim=(2, 3))


class Recurrent(nn.Module):
    """An LSTM voice-activity style model: batch-first LSTM with its state as inputs, then a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.gru = nn.GRU(5, 4, batch_first=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x, h0, c0):
        y, _ = self.lstm(x, (h0, c0))
        z, _ = self.gru(y)
        return self.fc(z[:, -1])


def export(model, args, name, opset, dynamic, input_names=('x',)):
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
    axes = {n: {0: 'batch'} for n in input_names[:1]} if dynamic else None
    if axes is not None:
        axes['y'] = {0: 'batch'}
    torch.onnx.export(model, args, os.path.join(OUT, name), opset_version=opset, input_names=list(input_names), output_names=['y'], dynamic_axes=axes, do_constant_folding=True)


if __name__ == '__main__':
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    export(Mobile(), (torch.randn(1, 3, 16, 16),), 'mobile_opset11.onnx', 11, True)
    export(Attention(), (torch.randn(2, 5, 8),), 'attention_opset11.onnx', 11, True)
    export(Unet(), (torch.randn(1, 1, 8, 8),), 'unet_fixed1_opset9.onnx', 9, False)
    export(Recurrent(), (torch.randn(1, 4, 3), torch.zeros(1, 1, 5), torch.zeros(1, 1, 5)), 'lstm_fixed1_opset11.onnx', 11, False, ('x', 'h0', 'c0'))
    export(Unet(), (torch.randn(1, 1, 8, 8),), 'unet_opset10.onnx', 10, True)
    print('wrote', sorted(os.listdir(OUT)))
