#!/usr/bin/env python3
"""Writes the GGUF fixtures under tests/fixtures/gguf/ with llama.cpp's own Python writer (PyPI
`gguf`, GGUFWriter), the independent reference for Hearth's GGUF reader, plus JSON beside each
file saying what was put in. tst_gguf checks the C++ reader returns exactly that.

  tiny_llama.gguf (+ .json)       version 3, alignment 32, a llama-like header: every value type,
                                  nested arrays, a tokens array, F32/F16/Q8_0/Q4_K tensors
  tiny_aligned64_v2.gguf (+ .json) version 2 (GGUFWriter writes 3; v2 has the same little-endian
                                  layout, so the version field is patched), general.alignment 64
  ggml_types.json                 ggml block geometry (GGML_QUANT_SIZES) and llama file type names

Also writes small fuzz seeds to tests/fuzz/corpus/gguf/.
Needs: /work/main/.venv/bin/pip install gguf numpy
Usage: .venv/bin/python tests/reference/make_gguf_fixture.py   (paths are relative to this script)
"""
import json
import os
import struct

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter, GGMLQuantizationType, LlamaFileType
from gguf.constants import GGML_QUANT_SIZES

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
OUT = os.path.join(TESTS, "fixtures", "gguf")
SEEDS = os.path.join(TESTS, "fuzz", "corpus", "gguf")

V = GGUFValueType


def pattern(seed, n):
    return bytes((seed * 37 + k * 11 + 5) & 0xFF for k in range(n))


def node(vtype, value, sub=None):
    """Expected-value JSON node: {"type", "value"} or {"type": 9, "elementType", "values"}."""
    if vtype == V.ARRAY:
        return {"type": int(V.ARRAY), "elementType": int(sub[0]),
                "values": [node(sub[0], v, sub[1:] if len(sub) > 1 else None) for v in value]}
    if vtype == V.FLOAT32:  # what a float32 can hold
        value = struct.unpack("<f", struct.pack("<f", value))[0]
    return {"type": int(vtype), "value": value}


class Fixture:
    def __init__(self, arch, alignment=None):
        self.arch = arch
        self.w = GGUFWriter(None, arch)  # adds general.architecture first
        self.kvs = [{"key": "general.architecture", **node(V.STRING, arch)}]
        self.tensors = []
        if alignment:
            self.w.add_custom_alignment(alignment)
            self.kvs.append({"key": "general.alignment", **node(V.UINT32, alignment)})

    def kv(self, key, vtype, value, sub=None):
        """sub: element types from the outermost array inwards, e.g. [ARRAY, STRING]."""
        self.w.add_key_value(key, value, vtype, sub_type=sub[0] if sub else None)
        self.kvs.append({"key": key, **node(vtype, value, sub)})

    def tensor(self, name, qtype, shape):
        """shape in numpy order (outermost first); ggml dims are the reverse."""
        block, type_bytes = GGML_QUANT_SIZES[qtype]
        n = int(np.prod(shape))
        nbytes = n // block * type_bytes
        raw = pattern(len(self.tensors) + 1, nbytes)
        if qtype in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
            arr = np.frombuffer(raw, dtype=np.float32 if qtype == GGMLQuantizationType.F32 else np.float16)
            self.w.add_tensor(name, arr.reshape(shape))
        else:
            byte_shape = list(shape[:-1]) + [shape[-1] // block * type_bytes]
            self.w.add_tensor(name, np.frombuffer(raw, dtype=np.uint8).reshape(byte_shape), raw_dtype=qtype)
        self.tensors.append({"name": name, "dims": list(reversed(shape)), "type": int(qtype),
                             "nBytes": nbytes, "dataHex": raw.hex()})

    def write(self, file_name, version=3):
        path = os.path.join(OUT, file_name)
        self.w.write_header_to_file(path)
        self.w.write_kv_data_to_file()
        self.w.write_tensors_to_file()
        self.w.close()
        if version != 3:
            with open(path, "r+b") as f:
                f.seek(4)
                f.write(struct.pack("<I", version))
        # Offsets come from llama.cpp's reader, so a wrong layout here cannot agree by accident.
        reader = GGUFReader(path)
        offsets = {t.name: int(t.data_offset) for t in reader.tensors}
        for t in self.tensors:
            t["fileOffset"] = offsets[t["name"]]
            with open(path, "rb") as f:
                f.seek(t["fileOffset"])
                assert f.read(t["nBytes"]).hex() == t["dataHex"], t["name"]
        expected = {"version": version, "alignment": int(reader.alignment), "dataStart": int(reader.data_offset),
                    "fileSize": os.path.getsize(path), "architecture": self.arch,
                    "metadata": self.kvs, "tensors": self.tensors}
        return path, expected


def file_type_name(ftype):
    """Hearth's spelling: LLAMA_FTYPE names without MOSTLY_/ALL_ ("Q4_K_M", "F16", "F32")."""
    return ftype.name.removeprefix("MOSTLY_").removeprefix("ALL_")


def tiny_llama():
    f = Fixture("llama")
    f.kv("general.name", V.STRING, "Tiny Llama \u2713 fixture")
    f.kv("general.file_type", V.UINT32, int(LlamaFileType.MOSTLY_Q4_K_M))
    f.kv("llama.context_length", V.UINT32, 4096)
    f.kv("llama.embedding_length", V.UINT32, 64)
    f.kv("llama.rope.freq_base", V.FLOAT32, 10000.0)
    f.kv("llama.attention.layer_norm_rms_epsilon", V.FLOAT32, 1e-5)
    f.kv("test.uint8", V.UINT8, 255)
    f.kv("test.int8", V.INT8, -128)
    f.kv("test.uint16", V.UINT16, 65535)
    f.kv("test.int16", V.INT16, -32768)
    f.kv("test.uint32", V.UINT32, 4294967295)
    f.kv("test.int32", V.INT32, -2147483648)
    f.kv("test.float32", V.FLOAT32, -0.1)
    f.kv("test.uint64", V.UINT64, 18446744073709551615)
    f.kv("test.int64", V.INT64, -9223372036854775808)
    f.kv("test.float64", V.FLOAT64, 3.141592653589793)
    f.kv("test.bool_true", V.BOOL, True)
    f.kv("test.bool_false", V.BOOL, False)
    f.kv("test.empty_string", V.STRING, "")
    f.kv("test.uint64_array", V.ARRAY, [0, 1, 2**40, 2**64 - 1], [V.UINT64])
    f.kv("test.float_array", V.ARRAY, [0.5, -1.25, 3.0], [V.FLOAT32])
    f.kv("test.nested", V.ARRAY, [["a", "bc"], ["", "d\u00e9f"], ["x"]], [V.ARRAY, V.STRING])
    f.kv("test.nested_ints", V.ARRAY, [[[1, -2]], [[3]]], [V.ARRAY, V.ARRAY, V.INT32])
    tokens = ["<unk>", "<s>", "</s>"] + [f"\u2581tok{i}" for i in range(197)] + ["\u4f60\u597d", "\U0001F600"]
    f.kv("tokenizer.ggml.model", V.STRING, "llama")
    f.kv("tokenizer.ggml.tokens", V.ARRAY, tokens, [V.STRING])
    f.kv("tokenizer.ggml.scores", V.ARRAY, [float(-i) for i in range(len(tokens))], [V.FLOAT32])
    f.kv("tokenizer.ggml.token_type", V.ARRAY, [1] * len(tokens), [V.INT32])
    f.tensor("token_embd.weight", GGMLQuantizationType.Q4_K, [2, 256])
    f.tensor("blk.0.attn_norm.weight", GGMLQuantizationType.F32, [8])
    f.tensor("blk.0.attn_q.weight", GGMLQuantizationType.Q8_0, [3, 64])
    f.tensor("blk.0.ffn_up.weight", GGMLQuantizationType.F16, [4, 2, 32])
    f.tensor("output_norm.weight", GGMLQuantizationType.F32, [4, 8])
    path, expected = f.write("tiny_llama.gguf")
    expected["contextLength"] = 4096
    expected["quantizationName"] = file_type_name(LlamaFileType.MOSTLY_Q4_K_M)
    expected["parameterCount"] = sum(int(np.prod(t["dims"])) for t in f.tensors)
    return path, expected


def tiny_aligned64_v2():
    f = Fixture("qwen2", alignment=64)
    f.kv("qwen2.context_length", V.UINT64, 32768)
    f.kv("general.quantization_version", V.UINT32, 2)
    f.tensor("a", GGMLQuantizationType.F32, [3])
    f.tensor("b", GGMLQuantizationType.Q8_0, [1, 32])
    f.tensor("c", GGMLQuantizationType.F16, [5])
    path, expected = f.write("tiny_aligned64_v2.gguf", version=2)
    expected["contextLength"] = 32768
    # No general.file_type: the reader names the type that holds the most bytes (Q8_0: 34 bytes).
    expected["quantizationName"] = "Q8_0"
    expected["parameterCount"] = 3 + 32 + 5
    return path, expected


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(SEEDS, exist_ok=True)
    for make in (tiny_llama, tiny_aligned64_v2):
        path, expected = make()
        with open(path + ".json", "w", encoding="utf-8") as out:
            json.dump(expected, out, indent=1)
            out.write("\n")
        with open(path, "rb") as src, open(os.path.join(SEEDS, os.path.basename(path)), "wb") as seed:
            seed.write(src.read())
    types = {"ggmlTypes": [{"id": int(t), "name": t.name, "blockElements": b, "blockBytes": s}
                           for t, (b, s) in GGML_QUANT_SIZES.items()],
             "fileTypes": [{"id": int(t), "name": file_type_name(t)} for t in LlamaFileType
                           if t != LlamaFileType.GUESSED]}
    with open(os.path.join(OUT, "ggml_types.json"), "w", encoding="utf-8") as out:
        json.dump(types, out, indent=1)
        out.write("\n")
    # A minimal seed: header, one key, one tensor; the fuzzer mutates from small shapes quickly.
    minimal = GGUFWriter(os.path.join(SEEDS, "minimal.gguf"), "x")
    minimal.add_tensor("t", np.zeros(4, dtype=np.float32))
    minimal.write_header_to_file()
    minimal.write_kv_data_to_file()
    minimal.write_tensors_to_file()
    minimal.close()


if __name__ == "__main__":
    main()
