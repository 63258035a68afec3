#!/usr/bin/env python3
"""Reference outputs from timm itself, for the engine's exactness tests.

Run offline by a developer (needs timm + torch + pillow from PyPI); CI only reads the small file
this writes: tests/fixtures/timm_reference.safetensors.

1. Every supported architecture, with deterministic pseudo-random weights: every tensor of timm's
   state_dict is filled from a SplitMix64 stream seeded by the tensor's name (the same generator
   is in src/testutil.rs, so the Rust test rebuilds identical weights without storing them).
   Inputs come from the same generator. We store timm's logits and pre_logits.
2. timm's eval transform (PIL resize + center crop) on pseudo-random RGB images of awkward sizes,
   bilinear and bicubic, several crop_pct: we store PIL's uint8 crops.

    python3 tools/make_fixtures.py            # writes tests/fixtures/timm_reference.safetensors
"""
import json
import math
import os
import sys

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
ARCHS = [
    "mobilenetv3_large_075", "mobilenetv3_large_100", "mobilenetv3_large_150d",
    "mobilenetv3_small_050", "mobilenetv3_small_075", "mobilenetv3_small_100",
    "mobilenetv3_rw",
    "tf_mobilenetv3_large_075", "tf_mobilenetv3_large_100", "tf_mobilenetv3_large_minimal_100",
    "tf_mobilenetv3_small_075", "tf_mobilenetv3_small_100", "tf_mobilenetv3_small_minimal_100",
    "fbnetv3_b", "fbnetv3_d", "fbnetv3_g",
    "lcnet_035", "lcnet_050", "lcnet_075", "lcnet_100", "lcnet_150",
    "mobilenetv4_conv_small_035", "mobilenetv4_conv_small_050", "mobilenetv4_conv_small",
    "mobilenetv4_conv_medium", "mobilenetv4_conv_large",
    "mobilenetv4_conv_aa_medium", "mobilenetv4_conv_blur_medium", "mobilenetv4_conv_aa_large",
    "mobilenetv4_hybrid_medium", "mobilenetv4_hybrid_large",
    "mobilenetv4_hybrid_medium_075", "mobilenetv4_hybrid_large_075",
]
# 224 is the trained size; 193 is odd, so every stride-2 layer sees odd sizes (TF-same padding).
INPUT_SIZES = [224, 193]
# Architectures whose default input size (timm's pretrained_cfg) is not 224: that size, and an
# odd size near it (kept small for the big models: CI runs these under WASI too).
ARCH_INPUT_SIZES = {
    "fbnetv3_g": [240, 193],
    "mobilenetv4_conv_medium": [256, 193],
    "mobilenetv4_conv_large": [384, 193],
    "mobilenetv4_conv_aa_medium": [256, 193],
    "mobilenetv4_conv_aa_large": [448, 193],
    "mobilenetv4_hybrid_medium": [256, 193],
    "mobilenetv4_hybrid_large": [384, 193],
    "mobilenetv4_hybrid_large_075": [256, 193],
}
INPUT_SEED = 20261125


def mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(seed, n, lo, hi):
    """Values 0..n-1 of stream `seed`, uniform in [lo, hi): f64 math, one rounding to f32."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = mix(np.uint64(seed) + i * GOLDEN)
    u = (z >> np.uint64(11)).astype(np.float64) * (1.0 / float(1 << 53))
    return (lo + (hi - lo) * u).astype(np.float32)


def fnv1a(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def weight_range(name, shape):
    """(lo, hi) for a tensor, chosen so activations stay O(1) through the random network.
    Must equal `weight_range` in tests/timm_parity.rs."""
    if name.endswith("running_var"):
        return 0.5, 1.5
    if name.endswith("running_mean"):
        return -0.2, 0.2
    if len(shape) == 1:  # BN weight/bias, conv and linear biases, layer scale
        module = name.split(".")[-2]
        if name.endswith("layer_scale.gamma"):
            # timm's 1e-5 would make every residual branch (and so the attention) invisible.
            return 0.5, 1.5
        if (module.startswith("bn") or module in ("norm_head", "norm")) and name.endswith(".weight"):
            return 0.6, 1.2
        return -0.2, 0.2
    fan_in = int(np.prod(shape[1:]))
    a = math.sqrt(3.0 / fan_in)
    return -a, a


def tensor_values(name, shape, bn_scale):
    """The pseudo-random values of one state_dict tensor (as tests/timm_parity.rs builds them)."""
    lo, hi = weight_range(name, shape)
    v = uniform(fnv1a(name), int(np.prod(shape)) if shape else 1, lo, hi).reshape(shape)
    # BatchNorm statistics are scaled by a per-layer factor s (calibrated below), so every BN
    # really normalizes and the signal stays O(1) through 20-odd random layers.
    s = bn_scale.get(name.rsplit(".", 1)[0])
    if s is not None and name.endswith("running_mean"):
        v = (v.astype(np.float64) * s).astype(np.float32)
    if s is not None and name.endswith("running_var"):
        v = (v.astype(np.float64) * (s * s)).astype(np.float32)
    return v


def fill_state_dict(model, x):
    """Fill every tensor from the generator; calibrate each BN's scale on input x, in order."""
    import torch
    sd = model.state_dict()
    bn_scale = {}

    def load():
        out = {}
        for name, t in sd.items():
            if name.endswith("num_batches_tracked"):
                out[name] = t
            else:
                out[name] = torch.from_numpy(tensor_values(name, list(t.shape), bn_scale))
        model.load_state_dict(out, strict=True)

    bns = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for name, bn in bns:
        load()
        seen = {}

        def hook(mod, inp, out):
            seen["std"] = float(inp[0].double().std())

        h = bn.register_forward_hook(hook)
        with torch.no_grad():
            model(x)
        h.remove()
        bn_scale[name] = seen["std"]
    load()
    return bn_scale


def input_tensor(size):
    import torch
    v = uniform(INPUT_SEED + size, 3 * size * size, -2.0, 2.0).reshape(1, 3, size, size)
    return torch.from_numpy(v)


def state_dict_shapes(model):
    """timm's tensor names and shapes (JSON), for the test that the engine asks for exactly these."""
    return json.dumps({k: list(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")})


def check_blocks_matter(model, x, arch):
    """Every residual block must change the output when removed (else the test could not see it)."""
    import torch
    with torch.no_grad():
        ref = model(x)
        for si, stage in enumerate(model.blocks):
            for bi in range(len(stage)):
                block = stage[bi]
                if not getattr(block, "has_skip", False):
                    continue
                stage[bi] = torch.nn.Identity()
                d = float((model(x) - ref).abs().max())
                stage[bi] = block
                assert d > 1e-2, f"{arch}: removing blocks.{si}.{bi} changes the logits by only {d:.2e}"
        # Attention blocks: the attention pattern itself must matter, not just the value path.
        # A zero query makes every softmax uniform (each pixel gets the mean of the values).
        for name, mod in model.named_modules():
            if type(mod).__name__ == "MultiQueryAttention2d":
                w = mod.query.proj.weight
                saved = w.clone()
                w.zero_()
                d = float((model(x) - ref).abs().max())
                w.copy_(saved)
                print(f"{arch}: uniform attention in {name} moves the logits by {d:.2e}", file=sys.stderr)
                # 10x the parity tolerance (some deep blocks of the large model move it ~8e-3).
                assert d > 1e-3, f"{arch}: uniform attention in {name} changes the logits by only {d:.2e}"


def model_fixtures(tensors, meta, archs=ARCHS):
    import timm
    import torch
    torch.set_num_threads(1)
    for arch in archs:
        model = timm.create_model(arch, pretrained=False, num_classes=1000).eval()
        sizes = ARCH_INPUT_SIZES.get(arch, INPUT_SIZES)
        bn_scale = fill_state_dict(model, input_tensor(sizes[0]))
        meta[f"{arch}/bn_scale"] = json.dumps(bn_scale)
        meta[f"{arch}/input_sizes"] = json.dumps(sizes)
        meta[f"{arch}/state_dict"] = state_dict_shapes(model)
        check_blocks_matter(model, input_tensor(sizes[1]), arch)
        for size in sizes:
            x = input_tensor(size)
            with torch.no_grad():
                feats = model.forward_features(x)
                pre = model.forward_head(feats, pre_logits=True)
                logits = model.forward_head(feats)
            tensors[f"{arch}/{size}/logits"] = logits[0].numpy().astype(np.float32)
            tensors[f"{arch}/{size}/pre_logits"] = pre[0].numpy().astype(np.float32)
            print(f"{arch:36s} {size}: |logits| max {logits.abs().max():8.3f} std {logits.std():7.3f} "
                  f"features std {feats.std():6.3f}", file=sys.stderr)
    meta["archs"] = json.dumps(ARCHS)
    meta["input_sizes"] = json.dumps(INPUT_SIZES)
    meta["input_seed"] = str(INPUT_SEED)


# (width, height, input_size, crop_pct, interpolation)
PREPROCESS_CASES = [
    (37, 53, 32, 0.875, "bilinear"),
    (53, 37, 32, 0.875, "bicubic"),
    (299, 299, 32, 0.875, "bilinear"),
    (640, 427, 32, 0.875, "bicubic"),
    (427, 640, 32, 0.95, "bicubic"),
    (33, 33, 32, 1.0, "bilinear"),
    (36, 36, 32, 0.875, "bicubic"),
    (20, 50, 32, 0.875, "bilinear"),
    (17, 13, 32, 0.875, "bicubic"),
    (1, 40, 32, 0.875, "bilinear"),
    (300, 7, 32, 0.875, "bicubic"),
    (257, 300, 32, 1.0, "bicubic"),
    (64, 64, 32, 1.2, "bilinear"),
    (1000, 751, 32, 0.875, "bilinear"),
    (181, 95, 48, 0.9, "bicubic"),
]


def preprocess_fixtures(tensors, meta):
    from PIL import Image
    from timm.data import create_transform
    cases = []
    for i, (w, h, size, crop_pct, interp) in enumerate(PREPROCESS_CASES):
        seed = 1000 + i
        # Smooth gradients plus noise: both the easy and the ringing-prone parts of the filters.
        noise = uniform(seed, w * h * 3, 0.0, 256.0).reshape(h, w, 3).astype(np.uint8)
        tf = create_transform(input_size=(3, size, size), crop_pct=crop_pct, interpolation=interp,
                              mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
        from torchvision import transforms as T
        resize_crop = T.Compose(tf.transforms[:-2])  # everything before ToTensor + Normalize
        assert [type(t).__name__ for t in tf.transforms] == ["Resize", "CenterCrop", "MaybeToTensor", "Normalize"], tf
        img = Image.fromarray(noise, "RGB")
        out = np.asarray(resize_crop(img), dtype=np.uint8)
        assert out.shape == (size, size, 3), out.shape
        x = tf(img).numpy()  # also check ToTensor + Normalize arithmetic
        tensors[f"preprocess/{i}/crop"] = out
        if i == 0:
            tensors[f"preprocess/{i}/tensor"] = x.astype(np.float32)
        cases.append(dict(width=w, height=h, input_size=size, crop_pct=crop_pct, interpolation=interp, seed=seed))
    meta["preprocess_cases"] = json.dumps(cases)


def decode_fixtures(tensors, meta):
    """Small image files in many encodings + PIL's `Image.open(f).convert('RGB')` of each (timm's
    loader), so the native decoder is held to Pillow's pixels byte for byte."""
    import io
    from PIL import Image
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.join(here, "..", "tests", "fixtures", "decode")
    os.makedirs(out_dir, exist_ok=True)
    w, h = 45, 29  # odd sizes: partial JPEG MCUs, odd chroma
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = np.stack([(xx * 5 + yy * 3) % 256, (xx * 2 + yy * 7 + 60) % 256, (250 - xx * 4 + yy) % 256], -1)
    noise = uniform(77, w * h * 3, -40.0, 40.0).reshape(h, w, 3)
    rgb = np.clip(smooth + noise, 0, 255).astype(np.uint8)
    alpha = ((xx * 11 + yy * 5) % 256).astype(np.uint8)
    base = Image.fromarray(rgb, "RGB")
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90; timm (PIL without exif_transpose) ignores it
    cases = {
        "baseline_420.jpg": (base, dict(format="JPEG", quality=90)),
        "baseline_444.jpg": (base, dict(format="JPEG", quality=95, subsampling=0)),
        "baseline_422.jpg": (base, dict(format="JPEG", quality=85, subsampling=1)),
        "progressive.jpg": (base, dict(format="JPEG", quality=88, progressive=True)),
        "restart_markers.jpg": (base, dict(format="JPEG", quality=80, restart_marker_blocks=1)),
        "gray.jpg": (base.convert("L"), dict(format="JPEG", quality=90)),
        "cmyk.jpg": (base.convert("CMYK"), dict(format="JPEG", quality=90)),
        "exif_rotated.jpg": (base, dict(format="JPEG", quality=90, exif=exif)),
        "rgb.png": (base, dict(format="PNG")),
        "rgba.png": (rgba, dict(format="PNG")),
        "gray.png": (base.convert("L"), dict(format="PNG")),
        "gray_alpha.png": (rgba.convert("LA"), dict(format="PNG")),
        "palette.png": (base.convert("P", palette=Image.Palette.ADAPTIVE, colors=64), dict(format="PNG")),
        "lossless.webp": (base, dict(format="WEBP", lossless=True)),
        "anim.gif": (base.convert("P", palette=Image.Palette.ADAPTIVE, colors=128), dict(format="GIF")),
        "rgb.bmp": (base, dict(format="BMP")),
    }
    names = []
    for name, (img, kw) in cases.items():
        buf = io.BytesIO()
        img.save(buf, **kw)
        data = buf.getvalue()
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        want = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
        tensors[f"decode/{name}"] = want
        names.append(name)
    meta["decode_cases"] = json.dumps(names)


def update_models(archs, src=None, out=None):
    """Regenerate only the model fixtures of `archs` in the existing file (everything else kept)."""
    from safetensors import safe_open
    from safetensors.numpy import save_file
    here = os.path.dirname(os.path.abspath(__file__))
    src = src or os.path.join(here, "..", "tests", "fixtures", "timm_reference.safetensors")
    out = out or src
    with safe_open(src, "np") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys() if k.split("/")[0] not in archs}
    model_fixtures(tensors, meta, archs)
    meta["archs"] = json.dumps(ARCHS)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, out, metadata=meta)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)", file=sys.stderr)


def main():
    if sys.argv[1:2] == ["--models"]:
        # python3 tools/make_fixtures.py --models ARCH...: refresh those architectures only.
        return update_models(sys.argv[2:])
    import PIL
    import timm
    import torch
    from safetensors.numpy import save_file
    tensors, meta = {}, {}
    meta.update(timm=timm.__version__, torch=torch.__version__, pillow=PIL.__version__,
                generator="tools/make_fixtures.py")
    preprocess_fixtures(tensors, meta)
    decode_fixtures(tensors, meta)
    model_fixtures(tensors, meta)
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "tests", "fixtures", "timm_reference.safetensors")
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, out, metadata=meta)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
