#!/usr/bin/env python3
"""Brute-force top-k cosine query in numpy, as the peer of simtui's query
step in `simtui bench`. Needs only numpy (threadpoolctl optional).

Usage (from the repository root):
    .venv/bin/python tools/bench_query.py [--n 100000] [--dim 1280] [--k 10]
        [--queries 50] [--threads 2] [--seed 0] [--json-only]

X is an (n, dim) float32 C-contiguous matrix of L2-normalised Gaussian rows
(seeded); each query q is a fresh unit vector. One query, timed:
    scores = X @ q                              # BLAS sgemv
    top = np.argpartition(-scores, k)[:k]       # unordered k best
    top = top[np.argsort(-scores[top])]         # sorted by decreasing cosine
median_ms / min_ms over --queries queries (>= 20) after 3 warm-up queries;
matvec_median_ms and topk_median_ms split the same runs. The first query's
result is checked against a full argsort.

BLAS threads: --threads (default 2, matching the other benchmarks) is put
into OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS before numpy is
imported; the threads actually in use and the BLAS library are read back
with threadpoolctl when it is installed, otherwise only numpy.show_config's
build information is reported. Prints ONE JSON object on stdout; progress
goes to stderr (--json-only silences it).
"""

import argparse
import json
import os
import statistics
import sys
import time


def log(args, *msg):
    if not args.json_only:
        print(*msg, file=sys.stderr, flush=True)


def blas_info(np):
    """(library description, threads) from threadpoolctl, else numpy's build config."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            p = pools[0]
            return ({"source": "threadpoolctl", "internal_api": p.get("internal_api"),
                     "version": p.get("version"), "architecture": p.get("architecture"),
                     "threading_layer": p.get("threading_layer"),
                     "num_threads": p.get("num_threads")}, p.get("num_threads"))
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info = {"source": "numpy.show_config", "name": blas.get("name"),
                "version": blas.get("version"),
                "configuration": blas.get("openblas configuration")}
    except Exception as e:  # older numpy: no mode="dicts"
        info = {"source": "unavailable", "error": str(e)}
    return info, None


def make_matrix(np, n, dim, rng, chunk=8192):
    x = np.empty((n, dim), dtype=np.float32)
    for i in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - i), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        x[i:i + len(block)] = block
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--queries", type=int, default=50, help="timed queries (>= 20)")
    ap.add_argument("--threads", type=int, default=2,
                    help="BLAS threads, set before numpy is imported (0: leave as is)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-only", action="store_true", help="no progress on stderr")
    args = ap.parse_args()
    if args.queries < 20:
        ap.error("--queries must be >= 20")
    if not 0 < args.k < args.n:
        ap.error("need 0 < k < n")
    if args.threads > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import numpy as np

    loadavg_before = round(os.getloadavg()[0], 2)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    X = make_matrix(np, args.n, args.dim, rng)
    log(args, f"matrix {args.n} x {args.dim} float32 ({X.nbytes / 2**20:.0f} MiB) "
              f"made in {time.perf_counter() - t0:.1f} s")
    k = args.k

    def query(q):
        t0 = time.perf_counter()
        scores = X @ q
        t1 = time.perf_counter()
        top = np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top])]
        t2 = time.perf_counter()
        return top, scores, (t2 - t0) * 1000, (t1 - t0) * 1000, (t2 - t1) * 1000

    qs = rng.standard_normal((args.queries + 3, args.dim), dtype=np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    total, matvec, topk = [], [], []
    for i, q in enumerate(qs):
        top, scores, t, tm, tk = query(q)
        if i == 0:
            ref = np.argsort(-scores, kind="stable")[:k]
            correct = bool(np.array_equal(top, ref))
        if i >= 3:  # first 3: warm-up
            total.append(t)
            matvec.append(tm)
            topk.append(tk)
    blas, threads = blas_info(np)
    result = {
        "median_ms": round(statistics.median(total), 4),
        "min_ms": round(min(total), 4),
        "max_ms": round(max(total), 4),
        "matvec_median_ms": round(statistics.median(matvec), 4),
        "topk_median_ms": round(statistics.median(topk), 4),
        "queries": len(total),
        "n": args.n,
        "dim": args.dim,
        "k": k,
        "matrix_mib": round(X.nbytes / 2**20, 1),
        "numpy_version": np.__version__,
        "blas": blas,
        "blas_threads": threads,
        "threads_requested": args.threads or None,
        "cpu_count": os.cpu_count(),
        "topk_matches_full_sort": correct,
        "loadavg_1min_before": loadavg_before,
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    log(args, f"top-{k} of {args.n}: median {result['median_ms']:.3f} ms "
              f"(matvec {result['matvec_median_ms']:.3f}, top-k {result['topk_median_ms']:.3f})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
