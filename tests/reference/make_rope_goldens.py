#!/usr/bin/env python3
"""RoPE goldens for tests/core/tst_cpu_ops.cpp, computed by transformers itself.

For each config below this records inv_freq and the attention factor from transformers'
ROPE_INIT_FUNCTIONS (modeling_rope_utils; the model's own compute_default_rope_parameters for
"default"), and q rotated by LlamaRotaryEmbedding + apply_rotary_pos_emb at a few positions,
all in float32 as transformers computes them. The dynamic cases pass every position in one call,
so transformers scales with seq_len = max(position) + 1, which the C++ test mirrors.

Usage: /work/main/.venv/bin/python tests/reference/make_rope_goldens.py tests/fixtures/rope/rope_goldens.json
(needs torch and transformers from PyPI)."""
import json
import math
import sys

import torch
import transformers
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

HEAD_DIM = 64
POSITIONS = [0, 1, 7, 100, 5000, 40000]

BASE = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 1000, "hidden_size": 512,
        "intermediate_size": 1024, "num_hidden_layers": 1, "num_attention_heads": 8, "num_key_value_heads": 2,
        "head_dim": HEAD_DIM, "rms_norm_eps": 1e-6, "torch_dtype": "float32"}

CASES = {
    "default": {"rope_theta": 1000000.0, "max_position_embeddings": 32768},
    "linear": {"rope_theta": 10000.0, "max_position_embeddings": 4096,
               "rope_scaling": {"rope_type": "linear", "factor": 4.0}},
    "dynamic_short": {"rope_theta": 10000.0, "max_position_embeddings": 8192,
                      "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}, "positions": [0, 1, 7, 100, 5000]},
    "dynamic_long": {"rope_theta": 10000.0, "max_position_embeddings": 8192,
                     "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}},
    "yarn_qwen25": {"rope_theta": 1000000.0, "max_position_embeddings": 131072,
                    "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}},
    "yarn_mscale": {"rope_theta": 10000.0, "max_position_embeddings": 16384,
                    "rope_scaling": {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 2048,
                                     "beta_fast": 16.0, "beta_slow": 2.0, "mscale": 0.707, "mscale_all_dim": 1.0}},
    "llama3": {"rope_theta": 500000.0, "max_position_embeddings": 131072,
               "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
}


def query(n_heads):
    # A fixed, non-symmetric input: q[h, i] = sin(0.37 * (h * HEAD_DIM + i) + 0.1)
    idx = torch.arange(n_heads * HEAD_DIM, dtype=torch.float64)
    return torch.sin(0.37 * idx + 0.1).to(torch.float32).reshape(1, n_heads, 1, HEAD_DIM)


def case(name, spec):
    spec = dict(spec)
    positions = spec.pop("positions", POSITIONS)
    cfg_json = {**BASE, **spec}
    config = LlamaConfig(**{k: v for k, v in cfg_json.items() if k not in ("architectures", "torch_dtype")})
    rope_type = config.rope_parameters.get("rope_type", "default")
    seq_len = max(positions) + 1
    if rope_type == "default":
        inv_freq, attention = LlamaRotaryEmbedding.compute_default_rope_parameters(config)
    else:
        inv_freq, attention = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu", seq_len=seq_len)
    rotary = LlamaRotaryEmbedding(config)
    q = query(2)
    rotated = []
    pos = torch.tensor([positions])
    x = q.expand(1, 2, len(positions), HEAD_DIM).contiguous()
    cos, sin = rotary(x, pos)
    q_rot, _ = apply_rotary_pos_emb(x, x, cos, sin)
    for i in range(len(positions)):
        rotated.append(q_rot[0, :, i, :].reshape(-1).tolist())
    return {"config": cfg_json, "seq_len": seq_len, "inv_freq": inv_freq.to(torch.float32).tolist(),
            "attention_factor": float(attention), "positions": positions,
            "input": q.reshape(-1).tolist(), "rotated": rotated}


def main():
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "head_dim": HEAD_DIM,
           "cases": {name: case(name, spec) for name, spec in CASES.items()}}
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)
    print("ok", {k: v["attention_factor"] for k, v in out["cases"].items()})


if __name__ == "__main__":
    main()
