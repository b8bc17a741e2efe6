"""A small safetensors reader/writer in plain Python (struct + numpy), written from the
format's specification, for fixture generators (the `safetensors` package is not installed).

Layout: 8-byte little-endian u64 N, N bytes of JSON header
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`
padded with spaces to a multiple of 8, then the data. Like the reference implementation,
tensors are laid out by alignment (element size, largest first), then by name.
"""
import json
import os
import struct
import tempfile

import numpy as np

_NP_TO_ST = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint64"): "U64",
    np.dtype("uint32"): "U32",
    np.dtype("uint16"): "U16",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}
_ST_TO_NP = {v: k for k, v in _NP_TO_ST.items()}
_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}


class Raw:
    """A tensor given as raw little-endian bytes with an explicit dtype (e.g. BF16)."""

    def __init__(self, dtype, shape, data: bytes):
        n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
        assert len(data) == n * _SIZE[dtype], (dtype, shape, len(data))
        self.dtype, self.shape, self.data = dtype, list(shape), bytes(data)


def encode(tensors, metadata=None) -> bytes:
    """Encodes {name: np.ndarray | Raw} (+ optional {str: str}) as safetensors bytes."""
    items = []
    for name, t in tensors.items():
        if isinstance(t, Raw):
            items.append((name, t.dtype, t.shape, t.data))
        else:
            t = np.asarray(t)
            a = np.ascontiguousarray(t).reshape(t.shape)  # (ascontiguousarray makes 0-d 1-d)
            dt = _NP_TO_ST[a.dtype]
            items.append((name, dt, list(a.shape), a.astype(a.dtype.newbyteorder("<")).tobytes()))
    items.sort(key=lambda it: (-_SIZE[it[1]], it[0]))
    header = {}
    if metadata:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
        header["__metadata__"] = metadata
    pos = 0
    for name, dt, shape, data in items:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [pos, pos + len(data)]}
        pos += len(data)
    hj = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    return struct.pack("<Q", len(hj)) + hj + b"".join(it[3] for it in items)


def save(path, tensors, metadata=None):
    """Writes a safetensors file atomically (temp file in the same folder, fsync, rename)."""
    data = encode(tensors, metadata)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".safetensors")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Reads a safetensors file: ({name: np.ndarray}, metadata). BF16 comes back as uint16."""
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        s, t = e["data_offsets"]
        dt = np.dtype("uint16") if e["dtype"] == "BF16" else _ST_TO_NP[e["dtype"]]
        out[name] = np.frombuffer(b[8 + n + s:8 + n + t], dtype=dt.newbyteorder("<")).reshape(
            e["shape"])
    return out, meta
