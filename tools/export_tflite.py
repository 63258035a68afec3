#!/usr/bin/env python3
"""The benchmark models as .tflite for the LiteRT.js peer: the same weights as the safetensors our
engine runs (bench/cache/ for the seeded large model, ../shared/weights for the genuine small one),
converted by litert-torch (Google's PyTorch -> LiteRT converter), float32, NCHW input [1,3,S,S].

Offline developer tool (needs `pip install litert-torch timm torch safetensors`); `node bench/run.mjs`
calls it when a .tflite of bench/cache/ is missing (after tools/export_onnx.py made the weights).
Each file is checked against torch on a random input before it is kept, and the check goes into
bench/cache/reference.json under the model's "tflite" key.

    python3 tools/export_tflite.py [--out bench/cache] [--shared ../shared] [--models ARCH,...] [--force]
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
    import litert_torch
    from export_onnx import genuine_model, input_size, natural_ish
except ImportError as e:  # pragma: no cover
    sys.exit(f"export_tflite.py: {e}. Install the converter with:\n"
             "    pip install litert-torch timm torch safetensors")


def convert(model, path):
    x = natural_ish(1, torch.Generator().manual_seed(2), input_size(model))
    tmp = path + ".tmp"
    edge = litert_torch.convert(model, (x,))
    edge.export(tmp)
    with torch.no_grad():
        ref = model(x).numpy()
    got = np.asarray(edge(x))
    diff = float(np.abs(got.reshape(ref.shape) - ref).max())
    if diff > 1e-3 * max(1.0, float(np.abs(ref).max())):
        os.remove(tmp)
        sys.exit(f"export_tflite.py: the .tflite of {path} differs from torch by {diff}")
    os.replace(tmp, path)
    return {"bytes": os.path.getsize(path), "max_abs_diff_vs_torch": diff,
            "litert_torch": getattr(litert_torch, "__version__", "?")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "cache"))
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    ap.add_argument("--models", default="", help="more seeded architectures (made by export_onnx.py --models)")
    ap.add_argument("--force", action="store_true", help="rebuild even if the files exist")
    a = ap.parse_args()
    ref_path = os.path.join(a.out, "reference.json")
    if not os.path.exists(ref_path):
        sys.exit("export_tflite.py: run tools/export_onnx.py first (it makes the weights and reference.json)")
    ref = json.load(open(ref_path))
    seeded = ["mobilenetv3_large_100"] + [m for m in a.models.split(",") if m]
    jobs = [(m, os.path.join(a.out, m + ".safetensors")) for m in seeded] + \
        [("tf_mobilenetv3_small_100", os.path.join(a.shared, "weights", "tf_mobilenetv3_small_100.safetensors"))]
    for arch, weights in jobs:
        path = os.path.join(a.out, arch + ".tflite")
        if not os.path.exists(weights):
            print(f"  {arch}: {weights} not found, skipped")
            continue
        if os.path.exists(path) and "tflite" in ref.get(arch, {}) and not a.force:
            print(f"  {arch}: up to date")
            continue
        print(f"  {arch}: litert_torch.convert -> {path}")
        ref.setdefault(arch, {})["tflite"] = convert(genuine_model(arch, weights), path)
        with open(ref_path, "w") as f:
            json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()
