#!/usr/bin/env python3
"""Does a latent map show the domains a per-pixel-normalised PCA-1 map shows? (docs/model.md, issue 16)

usage: /usr/bin/python3 bench/latent-vs-pca.py SCAN_NSID.h5 RESULTS.h5
Reads the scan's loops (NSID main dataset [rows, cols, steps]), normalises each loop (its own mean removed, divided
by its own std), fits PCA with one component (scikit-learn) and correlates its score map with every latent (μ) map
of the results file over the encoded pixels, and with a least-squares combination of all of them. Prints one JSON line: |r| per latent channel, the best channel, and the
neighbour correlation of both maps (how spatially coherent, i.e. domain-like, each map is).
"""
import json
import sys

import h5py
import numpy as np
from sklearn.decomposition import PCA


def main_dataset(f):
    found = []
    f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and o.ndim == 3 else None)
    return f[found[0]][()]


def neighbour_corr(m):
    a = np.concatenate([m[:, :-1].ravel(), m[:-1, :].ravel()])
    b = np.concatenate([m[:, 1:].ravel(), m[1:, :].ravel()])
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


scan_path, results_path = sys.argv[1], sys.argv[2]
with h5py.File(scan_path, 'r') as f:
    loops = np.asarray(main_dataset(f), dtype=np.float64)
rows, cols, steps = loops.shape
x = loops.reshape(rows * cols, steps)
x = np.nan_to_num(x, nan=np.nanmedian(x))
x = (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-12)
pc1 = PCA(n_components=1, random_state=0).fit_transform(x)[:, 0].reshape(rows, cols)
with h5py.File(results_path, 'r') as r:
    mu = r['embedding'][()]
    done = r['state'][()] > 0
r_per = []
for j in range(mu.shape[2]):
    a, b = pc1[done], mu[:, :, j][done]
    r_per.append(abs(float(np.corrcoef(a, b)[0, 1])) if b.std() > 0 else 0.0)
best = int(np.argmax(r_per))
# how much of the PCA-1 map the latent space holds at all: the correlation of a least-squares fit from all 16 maps
design = np.column_stack([mu[done], np.ones(done.sum())])
coef, *_ = np.linalg.lstsq(design, pc1[done], rcond=None)
r_all = float(np.corrcoef(design @ coef, pc1[done])[0, 1])
print(json.dumps({'abs_r_per_latent': [round(v, 3) for v in r_per], 'best_latent': best, 'best_abs_r': round(r_per[best], 3), 'r_linear_from_all_latents': round(r_all, 3),
                  'pca1_neighbour_corr': round(neighbour_corr(pc1), 3), 'best_latent_neighbour_corr': round(neighbour_corr(mu[:, :, best]), 3),
                  'pixels': int(done.sum())}))
