#!/usr/bin/env python3
"""Read a loopstream results file (<scanId>.results.h5) with h5py and print a summary.

The layout is in docs/formats.md: /embedding [rows, cols, 16] (NaN where not encoded), /error [rows, cols],
/model_version [rows, cols] (-1 = not encoded), /missing [rows, cols] (1 = sent but never arrived),
/state, /alerts (one row per alert), and the scan's attributes (scan_id, complete, pixels_encoded …).

Usage: read_results.py RESULTS.h5 [--json]   (--json prints the summary as one JSON object on stdout)
"""
import argparse
import json

import h5py
import numpy as np


def summarize(path: str) -> dict:
    with h5py.File(path, "r") as h:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v)
                 for k, v in h.attrs.items()}
        emb = h["embedding"][()]
        err = h["error"][()]
        ver = h["model_version"][()]
        missing = h["missing"][()].astype(bool)
        encoded = np.all(np.isfinite(emb), axis=-1)
        coords = np.argwhere(encoded)
        alerts = h["alerts"]
        n_alerts = int(alerts.attrs.get("count", 0))
        alert_rows = []
        for k in range(n_alerts):
            alert_rows.append({name: alerts[name][k].item() for name in alerts
                               if name != "pixel_alert" and alerts[name].shape and alerts[name].shape[0] == n_alerts})
        finite_err = err[encoded]
        return {
            "file": path,
            "scan_id": attrs.get("scan_id"),
            "complete": bool(attrs.get("complete", 0)),
            "status": attrs.get("status"),
            "grid": [int(attrs["rows"]), int(attrs["cols"])],
            "latent_dim": int(emb.shape[-1]),
            "encoded": int(encoded.sum()),
            "missing": int(missing.sum()),
            "encoded_coords": coords.tolist(),
            "embedding_mean": np.nanmean(emb[encoded], axis=0).round(4).tolist() if encoded.any() else [],
            "error": {"min": float(finite_err.min()), "median": float(np.median(finite_err)),
                      "max": float(finite_err.max())} if finite_err.size else None,
            "model_versions": sorted(set(ver[encoded].tolist())),
            "alerts": n_alerts,
            "alert_rows": alert_rows,
            "alert_pixels": int((alerts["pixel_alert"][()] > 0).sum()),
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    s = summarize(a.file)
    if a.json:
        print(json.dumps(s))
        return
    print(f"scan {s['scan_id']}  ({s['file']})")
    print(f"  grid {s['grid'][0]}x{s['grid'][1]}, latent dim {s['latent_dim']}, complete={s['complete']}, status={s['status']}")
    print(f"  pixels encoded {s['encoded']}, missing {s['missing']}, model version(s) {s['model_versions']}")
    if s["error"]:
        e = s["error"]
        print(f"  reconstruction error min {e['min']:.4g}  median {e['median']:.4g}  max {e['max']:.4g}")
    print(f"  mean embedding {s['embedding_mean']}")
    print(f"  alerts {s['alerts']} covering {s['alert_pixels']} pixel(s)")
    for r in s["alert_rows"]:
        print("    " + ", ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
