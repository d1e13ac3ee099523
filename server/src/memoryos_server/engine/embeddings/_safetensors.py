"""Read a ``.safetensors`` file into numpy arrays.

The format is small enough to parse directly: an 8-byte little-endian header length, a
JSON header giving each tensor's dtype, shape and byte range, then the raw little-endian
data. Parsing it here keeps the ``safetensors`` package (and its torch-oriented API) out of
the server's dependencies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}
# A header larger than this is not a model we know how to read; refuse rather than
# allocate whatever a damaged file claims.
_MAX_HEADER_BYTES = 64 * 1024 * 1024


class SafetensorsFormatError(ValueError):
    """The file is not a readable safetensors file."""


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Return every tensor in ``path`` as a read-only numpy array (metadata is skipped)."""
    raw = path.read_bytes()
    if len(raw) < 8:
        raise SafetensorsFormatError(f"{path} is too short to be a safetensors file")
    header_len = int.from_bytes(raw[:8], "little")
    if header_len > _MAX_HEADER_BYTES or 8 + header_len > len(raw):
        raise SafetensorsFormatError(f"{path} has an impossible header length {header_len}")
    try:
        header = json.loads(raw[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafetensorsFormatError(f"{path} has an unreadable header") from exc

    body = memoryview(raw)[8 + header_len :]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype_code = info.get("dtype")
        if dtype_code not in _DTYPES:
            raise SafetensorsFormatError(f"tensor {name!r} has unsupported dtype {dtype_code!r}")
        dtype = np.dtype(_DTYPES[dtype_code])
        shape = tuple(int(d) for d in info["shape"])
        start, end = (int(o) for o in info["data_offsets"])
        if not 0 <= start <= end <= len(body) or end - start != math.prod(shape) * dtype.itemsize:
            raise SafetensorsFormatError(f"tensor {name!r} has inconsistent byte offsets")
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(shape)
    return tensors
