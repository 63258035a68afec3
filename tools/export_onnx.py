#!/usr/bin/env python3
"""Benchmark models: the same weights as timm safetensors (for our engine and the TF.js peer) and
as ONNX (for ONNX Runtime Web and native onnxruntime), plus timm's own top-5 on the bench photo.

Offline developer tool (needs `pip install timm torch onnx onnxscript onnxruntime safetensors
pillow`); `node bench/run.mjs` calls it when a file of bench/cache/ is missing. Writes, into
bench/cache/ (gitignored):

  mobilenetv3_large_100.safetensors   seeded random weights (torch.manual_seed(0), timm's init,
                                      BatchNorm gamma/beta randomized and running statistics
                                      calibrated on random inputs, so no BN is an identity)
  mobilenetv3_large_100.config.json   timm's config.json for it (save_config_for_hf)
  mobilenetv3_large_100.onnx          the same model, opset 18, NCHW input "input" [1,3,224,224]
  ARCH.safetensors/.config.json/.onnx the same for each --models ARCH (mobilenetv4_conv_small,
                                      mobilenetv4_conv_medium, mobilenetv4_hybrid_medium, ...), input
                                      at the size of its pretrained_cfg (e.g. 256); layer scales
                                      drawn in [0.5, 1.5] (timm's 1e-5 would hide the attention)
  tf_mobilenetv3_small_100.onnx       the genuine weights of ../shared/weights (if present)
  reference.json                      timm's logits/top-5 on the bench photo for each model, the
                                      versions used, and the ONNX-vs-torch check

    python3 tools/export_onnx.py [--out bench/cache] [--shared ../shared] [--photo koala.jpg] [--models ARCH,...] [--force]
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import timm
    import torch
    from PIL import Image
    from safetensors.torch import load_file, save_file
except ImportError as e:  # pragma: no cover
    sys.exit(f"export_onnx.py: {e}. Install the export tools with:\n"
             "    pip install timm torch onnx onnxscript onnxruntime safetensors pillow")


def natural_ish(n, g, size=224):
    """Random images with a photo's spectrum: smooth low-frequency structure plus some noise,
    normalized like timm's inputs."""
    out = []
    for res in (4, 8, 16, 32, 64, size)[: max(1, n)]:
        x = torch.randn(n // 6 + 1, 3, res, res, generator=g)
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        out.append(x / x.std() * 1.0 + 0.2 * torch.randn(x.shape, generator=g))
    return torch.cat(out)[:n]


def seeded_random_model(arch):
    """timm's init under a fixed seed, with BatchNorm made non-trivial."""
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, num_classes=1000)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_scale.gamma"):
                p.copy_(torch.empty(p.shape).uniform_(0.5, 1.5, generator=g))
        for bn in bns:
            bn.weight.copy_(torch.empty(bn.num_features).uniform_(0.5, 1.5, generator=g))
            bn.bias.copy_(torch.empty(bn.num_features).uniform_(-0.2, 0.2, generator=g))
        # Calibrate running statistics on random images: every BN then really normalizes
        # (mean/var differ per channel), as in a trained network.
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average
        model.train()
        for _ in range(4):
            model(natural_ish(12, g))
        # Classifier: timm initializes it to tiny values; give it random weights scaled so the
        # logits have a standard deviation of about 1 on photo-like inputs (~5 on a real photo): the top-5 is then
        # well separated and the softmax not degenerate.
        fc = model.get_classifier()
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=g))
        fc.bias.copy_(torch.randn(fc.bias.shape, generator=g) * 0.1)
        model.eval()
        std = float(model(natural_ish(12, g)).std())
        fc.weight.mul_(1.0 / std)
    return model.eval()


def genuine_model(arch, path):
    model = timm.create_model(arch, pretrained=False, num_classes=1000)
    model.load_state_dict(load_file(path), strict=True)
    return model.eval()


def input_size(model):
    return model.pretrained_cfg["input_size"][-1]


def export(model, path):
    x = natural_ish(1, torch.Generator().manual_seed(2), input_size(model))
    tmp = path + ".tmp"
    try:
        torch.onnx.export(model, (x,), tmp, input_names=["input"], output_names=["logits"],
                          opset_version=18, dynamo=True, external_data=False)
    except Exception as e:  # older/newer torch without the dynamo exporter: TorchScript exporter
        print(f"  dynamo export failed ({type(e).__name__}: {e}); using the TorchScript exporter")
        torch.onnx.export(model, (x,), tmp, input_names=["input"], output_names=["logits"],
                          opset_version=17, dynamo=False)
    m = onnx.load(tmp)
    onnx.checker.check_model(m)
    sess = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = model(x).numpy()
    got = sess.run(None, {"input": x.numpy()})[0]
    diff = float(np.abs(got - ref).max())
    if diff > 1e-4 * max(1.0, float(np.abs(ref).max())):
        sys.exit(f"export_onnx.py: ONNX of {path} differs from torch by {diff}")
    os.replace(tmp, path)
    ops = sorted({n.op_type for n in m.graph.node})
    return {"opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
            "ops": ops, "nodes": len(m.graph.node), "max_abs_diff_vs_torch": diff}


def timm_on_photo(model, photo):
    cfg = timm.data.resolve_data_config({}, model=model)
    tf = timm.data.create_transform(**cfg)
    x = tf(Image.open(photo).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        logits = model(x)[0]
    p = logits.softmax(-1)
    top = torch.topk(logits, 5)
    return {"photo": os.path.basename(photo), "data_config": {k: list(v) if isinstance(v, tuple) else v
                                                               for k, v in cfg.items()},
            "top5": [int(i) for i in top.indices], "p5": [round(float(p[i]), 6) for i in top.indices],
            "logits": [round(float(v), 6) for v in logits]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "cache"))
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    ap.add_argument("--photo", default=None, help="default: SHARED/photos/koala.jpg")
    ap.add_argument("--models", default="", help="more seeded architectures, comma-separated")
    ap.add_argument("--force", action="store_true", help="rebuild even if the files exist")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    photo = a.photo or os.path.join(a.shared, "photos", "koala.jpg")
    ref_path = os.path.join(a.out, "reference.json")
    ref = {}
    if os.path.exists(ref_path) and not a.force:
        ref = json.load(open(ref_path))
    ref["versions"] = {"timm": timm.__version__, "torch": torch.__version__, "onnx": onnx.__version__,
                       "onnxruntime": ort.__version__}

    jobs = [("mobilenetv3_large_100", None)] + [(m, None) for m in a.models.split(",") if m]
    genuine = os.path.join(a.shared, "weights", "tf_mobilenetv3_small_100.safetensors")
    if os.path.exists(genuine):
        jobs.append(("tf_mobilenetv3_small_100", genuine))
    else:
        print(f"  {genuine} not found: skipping the genuine small model")

    for arch, weights in jobs:
        onnx_path = os.path.join(a.out, arch + ".onnx")
        st_path = weights or os.path.join(a.out, arch + ".safetensors")
        entry = ref.get(arch, {})
        cfg_path = st_path[: -len(".safetensors")] + ".config.json"
        have = os.path.exists(onnx_path) and os.path.exists(st_path) and os.path.exists(cfg_path) and \
            "onnx" in entry and \
            entry.get("photo", {}).get("photo") == os.path.basename(photo)
        if have and not a.force:
            print(f"  {arch}: up to date")
            continue
        if weights:
            print(f"  {arch}: genuine weights {weights}")
            model = genuine_model(arch, weights)
        else:
            print(f"  {arch}: seeded random weights -> {st_path}")
            model = seeded_random_model(arch)
            sd = {k: v.contiguous() for k, v in model.state_dict().items()
                  if not k.endswith("num_batches_tracked")}
            save_file(sd, st_path, metadata={"format": "pt"})  # one key: byte-identical files
            # timm's Hugging Face config.json beside it (preprocessing: timm's pretrained_cfg of
            # the architecture, e.g. bicubic for mobilenetv3_large_100).
            from timm.models._hub import save_config_for_hf
            save_config_for_hf(model, st_path[: -len(".safetensors")] + ".config.json")
            # The file must load back into timm unchanged.
            genuine_model(arch, st_path)
        print(f"  {arch}: ONNX -> {onnx_path}")
        entry = {"weights": os.path.relpath(st_path, ROOT), "onnx": export(model, onnx_path),
                 "params": sum(p.numel() for p in model.parameters())}
        if os.path.exists(photo):
            entry["photo"] = timm_on_photo(model, photo)
            print(f"  {arch}: timm top-5 on {os.path.basename(photo)}: {entry['photo']['top5']} "
                  f"p={entry['photo']['p5']}")
        ref[arch] = entry
        with open(ref_path, "w") as f:
            json.dump(ref, f, indent=1)
    with open(ref_path, "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()
