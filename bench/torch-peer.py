#!/usr/bin/python3
"""
The peer of bench/inference.ts: the same beta-VAE with the same weights in PyTorch on the CPU.

Reads a bundle's tfjs weights (tfjs/{encoder,decoder}/model.json + weights.bin, Keras conventions), builds the
equivalent nn.LSTM stack (Keras gates i,f,c,o are PyTorch's i,f,g,o; kernels transpose; the Keras bias becomes
bias_ih and bias_hh is zero), checks on the input the benchmark wrote that mu and the reconstruction equal
onnxruntime's within 1e-4, then times encoder, decoder and both at each batch size and thread count.

usage: torch-peer.py BUNDLE_DIR CHECK_DIR --batches 1,16,256 --threads 1,2 --parts encoder,decoder,both --min-seconds 0.5
CHECK_DIR holds x.f32 [n,T,C], mu.f32 [n,L], recon.f32 [n,T,C] (onnxruntime's answers) and n.txt.
Prints one JSON object on stdout.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def read_tfjs(model_json):
    """Weight arrays of a tfjs layers model by name (weights.bin holds them in manifest order)."""
    folder = os.path.dirname(model_json)
    with open(model_json) as f:
        j = json.load(f)
    out = {}
    for group in j["weightsManifest"]:
        buf = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            assert w["dtype"] == "float32", w
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            out[w["name"]] = np.frombuffer(buf, dtype=np.float32, count=n, offset=off).reshape(w["shape"]).copy()
            off += 4 * n
    return out


def layer_weights(weights, layer):
    """The arrays of one layer, in manifest order (names start with 'layer/')."""
    return [v for k, v in weights.items() if k.split("/")[0] == layer]


def bilstm(weights, layer, in_dim, units):
    fk, fr, fb, bk, br, bb = layer_weights(weights, layer)
    m = nn.LSTM(in_dim, units, bidirectional=True)
    with torch.no_grad():
        for suffix, (k, r, b) in (("", (fk, fr, fb)), ("_reverse", (bk, br, bb))):
            getattr(m, "weight_ih_l0" + suffix).copy_(torch.from_numpy(k.T.copy()))
            getattr(m, "weight_hh_l0" + suffix).copy_(torch.from_numpy(r.T.copy()))
            getattr(m, "bias_ih_l0" + suffix).copy_(torch.from_numpy(b))
            getattr(m, "bias_hh_l0" + suffix).zero_()
    return m


def dense(weights, layer):
    k, b = layer_weights(weights, layer)
    m = nn.Linear(k.shape[0], k.shape[1])
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(k.T.copy()))
        m.bias.copy_(torch.from_numpy(b))
    return m


class Encoder(nn.Module):
    """x [N,T,C] -> mu, logvar [N,L]; runs time-major inside like the ONNX graph."""

    def __init__(self, w, dims):
        super().__init__()
        U, B, C = dims["units"], dims["blocks"], dims["C"]
        self.blocks = nn.ModuleList()
        self.shortcut_is_input = []
        d = C
        for b in range(B):
            self.blocks.append(nn.ModuleList([bilstm(w, f"enc_b{b}_lstm0", d, U), bilstm(w, f"enc_b{b}_lstm1", 2 * U, U)]))
            self.shortcut_is_input.append(d == 2 * U)
            d = 2 * U
        self.last = bilstm(w, "enc_last", d, U)
        self.emb = dense(w, "enc_emb")
        self.mu = dense(w, "enc_mu")
        self.logvar = dense(w, "enc_logvar")

    def forward(self, x):
        h = x.transpose(0, 1)
        for (l0, l1), same in zip(self.blocks, self.shortcut_is_input):
            h1 = torch.relu(l0(h)[0])
            h2 = torch.relu(l1(h1)[0])
            h = (h if same else h1) + h2
        _, (hn, _) = self.last(h)
        last = torch.cat([hn[0], hn[1]], dim=1)
        e = torch.relu(self.emb(last))
        return self.mu(e), self.logvar(e)


class Decoder(nn.Module):
    """z [N,L] -> recon [N,T,C]."""

    def __init__(self, w, dims):
        super().__init__()
        U, B, L = dims["units"], dims["blocks"], dims["latentDim"]
        self.T = dims["T"]
        self.emb = dense(w, "dec_emb")
        self.lstm = bilstm(w, "dec_lstm", L, U)
        self.blocks = nn.ModuleList([nn.ModuleList([bilstm(w, f"dec_b{b}_lstm0", 2 * U, U), bilstm(w, f"dec_b{b}_lstm1", 2 * U, U)]) for b in range(B)])
        self.out = dense(w, "dec_out")

    def forward(self, z):
        e = torch.relu(self.emb(z))
        s = torch.relu(self.lstm(e.unsqueeze(0).expand(self.T, -1, -1).contiguous())[0])
        for l0, l1 in self.blocks:
            s = s + torch.relu(l1(torch.relu(l0(s)[0]))[0])
        return self.out(s).transpose(0, 1)


def timed(fn, min_seconds, min_reps=2):
    w = time.perf_counter()
    fn()  # warm-up
    if time.perf_counter() - w > 2.0:
        min_reps = 1  # a call of seconds is past any warm-up effect (same rule as bench/timing.ts)
    times = []
    c0 = time.process_time()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < min_seconds or len(times) < min_reps:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    cpu = time.process_time() - c0
    times.sort()
    return {"reps": len(times), "medianMs": times[(len(times) + 1) // 2 - 1] * 1e3, "bestMs": times[0] * 1e3, "cpuMs": cpu * 1e3 / len(times)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bundle")
    ap.add_argument("check")
    ap.add_argument("--batches", default="1,16,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--parts", default="encoder,decoder,both")
    ap.add_argument("--min-seconds", type=float, default=0.5)
    a = ap.parse_args()

    manifest = json.load(open(os.path.join(a.bundle, "manifest.json")))
    dims = manifest["dims"]
    T, C, L = dims["T"], dims["C"], dims["latentDim"]
    enc = Encoder(read_tfjs(os.path.join(a.bundle, "tfjs/encoder/model.json")), dims).eval()
    dec = Decoder(read_tfjs(os.path.join(a.bundle, "tfjs/decoder/model.json")), dims).eval()

    n = int(open(os.path.join(a.check, "n.txt")).read())
    x = torch.from_numpy(np.fromfile(os.path.join(a.check, "x.f32"), dtype=np.float32).reshape(n, T, C))
    mu_ort = np.fromfile(os.path.join(a.check, "mu.f32"), dtype=np.float32).reshape(n, L)
    recon_ort = np.fromfile(os.path.join(a.check, "recon.f32"), dtype=np.float32).reshape(n, T, C)
    with torch.inference_mode():
        mu, _ = enc(x)
        recon = dec(mu)
    mu_diff = float(np.abs(mu.numpy() - mu_ort).max())
    recon_diff = float(np.abs(recon.numpy() - recon_ort).max())
    check = {"n": n, "muMaxAbsDiff": mu_diff, "reconMaxAbsDiff": recon_diff, "tolerance": 1e-4, "ok": mu_diff <= 1e-4 and recon_diff <= 1e-4}
    if not check["ok"]:
        print(json.dumps({"check": check, "rows": [], "error": "PyTorch model differs from onnxruntime; not timing a different model"}))
        sys.exit(2)

    rows = []
    max_b = max(int(b) for b in a.batches.split(","))
    g = torch.Generator().manual_seed(1)
    xs_all = torch.randn(max_b, T, C, generator=g)
    zs_all = torch.randn(max_b, L, generator=g)
    for threads in (int(t) for t in a.threads.split(",")):
        torch.set_num_threads(threads)
        for part in a.parts.split(","):
            for b in (int(b) for b in a.batches.split(",")):
                xs, zs = xs_all[:b].contiguous(), zs_all[:b].contiguous()

                def run_encoder():
                    return enc(xs)

                def run_decoder():
                    return dec(zs)

                def run_both():
                    m, _ = enc(xs)
                    r = dec(m)
                    return ((r - xs) ** 2).mean(dim=(1, 2))

                fn = {"encoder": run_encoder, "decoder": run_decoder, "both": run_both}[part]
                with torch.inference_mode():
                    t = timed(fn, a.min_seconds)
                rows.append({"part": part, "threads": threads, "batch": b, **{k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()}, "seqPerSec": round(b * 1e3 / t["medianMs"], 1), "load1": round(os.getloadavg()[0], 2)})
    print(json.dumps({"torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(), "check": check, "rows": rows}))


if __name__ == "__main__":
    main()
