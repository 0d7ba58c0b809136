#!/usr/bin/env python3
"""Writes tests/fixtures/safetensors/reference.safetensors, the independent reference for Hearth's
safetensors writer (tst_safetensors checks byte equality), and a few fuzz seeds under
tests/fuzz/corpus/safetensors/. The writer below is `write_safetensors` from
gen_reference_models.py, generalised to any dtype and metadata: json.dumps with compact
separators (default ensure_ascii), spaces to a multiple of 8, little-endian u64 length.
Standard library only. The tensor list must match kReferenceTensors in tests/core/tst_safetensors.cpp.
Usage: make_safetensors_fixture.py   (paths are relative to this script)
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1, "BOOL": 1}

# (name, dtype, shape), in the order written; names exercise JSON escaping the way Python does it.
TENSORS = [
    ("z.bias", "F64", [1]),
    ("model.norm.weight", "F32", [4]),
    ("model.embed_tokens.weight", "BF16", [3, 2]),
    ("scalar", "F16", []),
    ("empty", "U8", [0, 5]),
    ("ints", "I32", [2, 2, 1]),
    ("q8", "I8", [5]),
    ("weird \"name\"\\\t\x7f\x01 \u00e9 \U0001F600/\u2028", "U8", [1]),
    ("bool", "BOOL", [3]),
    ("i64", "I64", [2]),
]
METADATA = {"format": "pt", "source": "hearth \"fixture\" \u2713"}  # sorted keys: C++ passes a std::map


def tensor_bytes(index, n):
    """Byte k of the index-th tensor; tst_safetensors.cpp computes the same."""
    return bytes((index * 31 + k * 7 + 3) & 0xFF for k in range(n))


def write_safetensors(path, tensors, metadata):
    header, blobs, off = ({"__metadata__": metadata} if metadata else {}), [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw); off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little")); f.write(h)
        for b in blobs: f.write(b)


def main():
    tensors = {}
    for i, (name, dtype, shape) in enumerate(TENSORS):
        n = SIZES[dtype]
        for d in shape: n *= d
        tensors[name] = (dtype, shape, tensor_bytes(i, n))
    write_safetensors(os.path.join(TESTS, "fixtures", "safetensors", "reference.safetensors"), tensors, METADATA)

    seeds = os.path.join(TESTS, "fuzz", "corpus", "safetensors")
    os.makedirs(seeds, exist_ok=True)
    write_safetensors(os.path.join(seeds, "reference.safetensors"), tensors, METADATA)
    write_safetensors(os.path.join(seeds, "two_tensors.safetensors"),
                      {"a": ("F32", [2], tensor_bytes(0, 8)), "b": ("BF16", [1, 2], tensor_bytes(1, 4))}, {"format": "pt"})
    write_safetensors(os.path.join(seeds, "metadata_only.safetensors"), {}, {"format": "pt"})
    write_safetensors(os.path.join(seeds, "no_tensors.safetensors"), {}, {})


if __name__ == "__main__":
    main()
