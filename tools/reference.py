#!/usr/bin/env python3
"""Produce PyTorch reference outputs for the Rust EfficientNet-Lite0 port.

Usage (from the repository root, venv required):
    .venv/bin/python tools/reference.py [--weights PATH] [--out fixtures/reference] [PHOTO ...]

For each photo (default: the DEFAULT_PHOTOS list below, paths relative to
fixtures/) it writes
  - fixtures/reference/<stem>_224.png: the exact 224x224 RGB model input,
    lossless, so a Rust test can skip JPEG decoding and PIL's resampler
    (both of which differ slightly between implementations) and compare the
    network alone;
  - an entry in fixtures/reference/reference.json with the pooled 1280-d
    embedding, the 1000 logits and the top-5 classes.

Preprocessing (the reference definition): PIL open, ImageOps.exif_transpose,
convert('RGB'), resize the WHOLE image to 224x224 with Image.BICUBIC (no crop),
then x = (pixel - 127) / 128 per RGB channel, NCHW float32.

Each image runs at batch size 1 in float32 on CPU, model in eval mode.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch

import lite0_torch as L

# At least one photo from each of the 12 groups, plus the four the Rust tests
# name explicitly (espresso, Chelsea cat, kingfisher and its crop).
DEFAULT_PHOTOS = [
    "photos/food_espresso.jpg",
    "photos/pet_chelsea_cat.jpg",
    "photos/bird_kingfisher.jpg",
    "photos/bird_kingfisher_crop.jpg",
    "photos/pet_german_shepherd.jpg",
    "photos/building_eiffel_tower.jpg",
    "photos/farm_sheep.jpg",
    "photos/flower_dahlia.jpg",
    "photos/food_citrus_slices.jpg",
    "photos/mountain_machu_picchu.jpg",
    "photos/person_grace_hopper.jpg",
    "photos/pyramid_red_pyramid.jpg",
    "photos/water_forest_stream.jpg",
    "photos/wild_giant_panda.jpg",
    "photos/wild_red_panda.jpg",
    "photos/windmill_kinderdijk.jpg",
]

PREPROCESS = (
    "PIL.Image.open; PIL.ImageOps.exif_transpose; convert('RGB'); resize the whole "
    "image (no crop, aspect ratio not kept) to 224x224 with PIL.Image.BICUBIC; "
    "the result is saved losslessly as input_png; x = (pixel - 127) / 128 per RGB "
    "channel as float32, NCHW [1,3,224,224]. embedding = mean over H,W of "
    "extract_features(x) (the 1280-d global-average-pooled output before dropout/fc); "
    "logits = _fc(embedding); model in eval mode, float32, CPU, batch 1."
)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cosine(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("photos", nargs="*", default=DEFAULT_PHOTOS,
                    help="photos relative to fixtures/ (default: a fixed list of 16)")
    ap.add_argument("--weights", default=L.SAFETENSORS_PATH,
                    help="weights (.safetensors or legacy .pth); default: the converted file")
    ap.add_argument("--out", default=os.path.join(L.REPO_ROOT, "fixtures", "reference"))
    args = ap.parse_args()

    fixtures = os.path.join(L.REPO_ROOT, "fixtures")
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    model = L.build_model(args.weights)
    classes = L.load_classes()

    images = []
    by_photo = {}
    for rel in args.photos:
        src = os.path.join(fixtures, rel)
        stem = os.path.splitext(os.path.basename(rel))[0]
        png_name = f"{stem}_224.png"
        img = L.preprocess_pil(src)
        img.save(os.path.join(args.out, png_name), format="PNG", optimize=True)
        # Feed the network from the PNG we just wrote, so the stored file is
        # provably the input that produced these numbers.
        from PIL import Image
        with Image.open(os.path.join(args.out, png_name)) as back:
            pixels = np.asarray(back.convert("RGB"))
        assert np.array_equal(pixels, np.asarray(img)), "PNG round trip changed pixels"

        x = torch.from_numpy(L.to_input(pixels))
        with torch.no_grad():
            emb, logits = L.embed_and_logits(model, x)
        emb = emb[0].numpy().astype(np.float32)
        logits = logits[0].numpy().astype(np.float32)
        probs = torch.softmax(torch.from_numpy(logits).double(), 0).numpy()
        top = np.argsort(-logits, kind="stable")[:5]
        entry = {
            "photo": rel,
            "input_png": png_name,
            "input_png_sha256": sha256_of(os.path.join(args.out, png_name)),
            # float32 -> Python float is exact; JSON's shortest repr round-trips.
            "embedding": emb.tolist(),
            "logits": logits.tolist(),
            "top5": [[int(i), classes[i], float(probs[i])] for i in top],
        }
        images.append(entry)
        by_photo[stem] = emb
        t = entry["top5"]
        print(f"{rel:38s} top1 {t[0][1]!r} ({t[0][2]:.3f}); "
              f"top5 {[c for _, c, _ in t]}", file=sys.stderr)

    doc = {
        "weights_sha256": sha256_of(args.weights),
        "weights_file": os.path.relpath(args.weights, L.REPO_ROOT)
        if args.weights.startswith(L.REPO_ROOT) else os.path.basename(args.weights),
        "source_pth_sha256": sha256_of(L.default_pth()),
        "preprocess": PREPROCESS,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "pillow_version": __import__("PIL").__version__,
        "classes_file": "weights/imagenet_classes.txt",
        "images": images,
    }
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")

    # Sanity checks the Rust side relies on.
    names = {os.path.basename(e["photo"]): e for e in images}
    if "food_espresso.jpg" in names:
        top1 = names["food_espresso.jpg"]["top5"][0][1]
        print(f"check: espresso top-1 = {top1!r}", file=sys.stderr)
        assert top1 == "espresso", top1
    if "pet_chelsea_cat.jpg" in names:
        top3 = [c for _, c, _ in names["pet_chelsea_cat.jpg"]["top5"][:3]]
        cats = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
        print(f"check: Chelsea top-3 = {top3}", file=sys.stderr)
        assert cats & set(top3), top3
    if "bird_kingfisher" in by_photo and "bird_kingfisher_crop" in by_photo:
        c = cosine(by_photo["bird_kingfisher"], by_photo["bird_kingfisher_crop"])
        print(f"check: cosine(kingfisher, kingfisher_crop) = {c:.6f}", file=sys.stderr)
        others = [cosine(by_photo["bird_kingfisher"], v)
                  for k, v in by_photo.items() if not k.startswith("bird_kingfisher")]
        print(f"       max cosine(kingfisher, any other photo) = {max(others):.6f}",
              file=sys.stderr)
    print(f"wrote {len(images)} images to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
