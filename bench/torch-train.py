#!/usr/bin/python3
"""
The PyTorch CPU peer of bench/training.ts for the mlp preset (src/model/vae.ts): the same architecture
(T*C -> h0 -> h1 -> mu, logvar heads; decoder z -> h1 -> h0 -> T*C, ReLU), the same loss (MSE + beta*KL with KL the
mean over batch and latents, + lambda*L1 of the embedding activations) and Adam, on random N(0,1) data.
Times whole epochs (the first is warm-up) at each thread count and batch, in wall and in process CPU time;
prints one JSON object.

usage: torch-train.py --T 96 --C 2 --hidden 256,128 --latent 16 --samples 4096 --batches 128,256 --threads 1,2 --epochs 3
"""
import argparse
import json
import os
import time

import torch
from torch import nn


class Mlp(nn.Module):
    def __init__(self, d, hidden, latent):
        super().__init__()
        self.enc = nn.ModuleList()
        w = d
        for h in hidden:
            self.enc.append(nn.Linear(w, h))
            w = h
        self.mu = nn.Linear(w, latent)
        self.logvar = nn.Linear(w, latent)
        self.dec = nn.ModuleList()
        w = latent
        for h in reversed(hidden):
            self.dec.append(nn.Linear(w, h))
            w = h
        self.out = nn.Linear(w, d)

    def forward(self, x, eps):
        h = x
        for l in self.enc:
            h = torch.relu(l(h))
        mu, lv = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * lv) * eps
        d = z
        demb = None
        for l in self.dec:
            d = torch.relu(l(d))
            if demb is None:
                demb = d
        return self.out(d), mu, lv, h, demb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=96)
    ap.add_argument("--C", type=int, default=2)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--latent", type=int, default=16)
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--batches", default="128")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    d = a.T * a.C
    hidden = [int(h) for h in a.hidden.split(",")]
    g = torch.Generator().manual_seed(1)
    data = torch.randn(a.samples, d, generator=g)
    beta, lam = 0.01, 1e-5 * 10 ** 0.01
    rows = []
    for threads in (int(t) for t in a.threads.split(",")):
        torch.set_num_threads(threads)
        for B in (int(b) for b in a.batches.split(",")):
            torch.manual_seed(1)
            model = Mlp(d, hidden, a.latent)
            opt = torch.optim.Adam(model.parameters(), lr=2e-3)
            per_epoch = []
            cpu_epoch = []
            for _ in range(a.epochs):
                perm = torch.randperm(a.samples, generator=g)
                t0 = time.perf_counter()
                c0 = time.process_time()
                for s in range(0, a.samples, B):
                    xb = data[perm[s:s + B]]
                    eps = torch.randn(xb.shape[0], a.latent)
                    xh, mu, lv, emb, demb = model(xb, eps)
                    mse = ((xb - xh) ** 2).mean()
                    kl = -0.5 * (1 + lv - mu ** 2 - lv.exp()).mean()
                    l1 = (emb.abs().sum() + demb.abs().sum()) / xb.shape[0]
                    loss = mse + beta * kl + lam * l1
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                per_epoch.append(time.perf_counter() - t0)
                cpu_epoch.append(time.process_time() - c0)
            best = min(per_epoch[1:]) if len(per_epoch) > 1 else per_epoch[0]
            best_cpu = min(cpu_epoch[1:]) if len(cpu_epoch) > 1 else cpu_epoch[0]
            rows.append({"threads": threads, "batch": B, "samplesPerSec": round(a.samples / best, 1), "samplesPerCpuSec": round(a.samples / best_cpu), "epochSeconds": [round(s, 3) for s in per_epoch], "load1": round(os.getloadavg()[0], 2)})
    print(json.dumps({"torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
