"""Pure-Python stand-in for safetensors' compiled `_safetensors_rust` extension.

The real extension is Rust (built with maturin from crates.io), which this machine cannot reach. It is replaced by
these few lines that follow the published format spec (https://github.com/huggingface/safetensors#format):
8-byte little-endian header length N, N bytes of JSON ({name: {dtype, shape, data_offsets: [begin, end]}},
optional "__metadata__": {str: str}), padded with spaces to a multiple of 8, then the raw little-endian bytes.
safetensors' own Python layer (safetensors/torch.py, numpy.py) runs unchanged on top of it.
"""
import json
import os
import struct

__version__ = "0.4.5"

_NP_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
              "U8": "u1", "BOOL": "?"}


# safetensors' Python layer passes framework dtype names ("float32", "bfloat16"); the file holds spec names.
_SPEC_NAMES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
               "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
               "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2"}


class SafetensorError(Exception):
    pass


def _read_header(buf):
    if len(buf) < 8:
        raise SafetensorError("file shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    if 8 + n > len(buf):
        raise SafetensorError(f"header length {n} exceeds the file size {len(buf)}")
    header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    metadata = header.pop("__metadata__", None)
    return header, metadata, 8 + n


def _serialize(tensor_dict, metadata):
    # Same order as the Rust writer: larger alignment first (by dtype size), then name.
    sizes = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
             "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
    tensor_dict = {k: dict(v, dtype=_SPEC_NAMES.get(v["dtype"], v["dtype"])) for k, v in tensor_dict.items()}
    names = sorted(tensor_dict, key=lambda k: (-sizes.get(tensor_dict[k]["dtype"], 1), k))
    header, offset, chunks = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in names:
        t = tensor_dict[name]
        data = bytes(t["data"])
        header[name] = {"dtype": t["dtype"], "shape": list(t["shape"]), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(chunks)


def serialize(tensor_dict, metadata=None):
    return _serialize(tensor_dict, metadata)


def serialize_file(tensor_dict, filename, metadata=None):
    with open(filename, "wb") as f:
        f.write(_serialize(tensor_dict, metadata))


def deserialize(data):
    header, _, start = _read_header(data)
    out = []
    for name, info in header.items():
        b, e = info["data_offsets"]
        out.append((name, {"shape": info["shape"], "dtype": info["dtype"], "data": bytes(data[start + b:start + e])}))
    return out


class _Slice:
    def __init__(self, opened, name):
        self._opened, self._name = opened, name

    def get_shape(self):
        return list(self._opened._header[self._name]["shape"])

    def get_dtype(self):
        return self._opened._header[self._name]["dtype"]

    def __getitem__(self, index):
        return self._opened.get_tensor(self._name)[index]


class safe_open:
    def __init__(self, filename, framework, device="cpu"):
        with open(os.fspath(filename), "rb") as f:
            self._buf = f.read()
        self._header, self._metadata, self._start = _read_header(self._buf)
        self._framework = framework
        self._device = device

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def keys(self):
        return sorted(self._header)

    def metadata(self):
        return self._metadata

    def get_slice(self, name):
        return _Slice(self, name)

    def get_tensor(self, name):
        if name not in self._header:
            raise SafetensorError(f"no tensor named {name}")
        info = self._header[name]
        b, e = info["data_offsets"]
        raw = bytearray(self._buf[self._start + b:self._start + e])
        dtype, shape = info["dtype"], info["shape"]
        if self._framework in ("pt", "torch"):
            import torch
            tdt = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                   "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
                   "BOOL": torch.bool}[dtype]
            if len(raw) == 0:
                t = torch.empty(shape, dtype=tdt)
            else:
                t = torch.frombuffer(raw, dtype=tdt).reshape(shape)
            return t.to(self._device) if str(self._device) != "cpu" else t
        import numpy as np
        return np.frombuffer(raw, dtype=_NP_DTYPES[dtype]).reshape(shape)
