#!/usr/bin/env python3
"""Writes a randomly initialised Qwen2-architecture model in the Hugging Face layout (config.json,
bf16 safetensors shards with an index, the tokenizer copied in) for speed work: tokens/s and load
time do not depend on the values. `--shape qwen2.5-7b` has exactly Qwen2.5-7B-Instruct's shapes
(15.2 GB, 4 shards); `--shape tiny` is a few MB, for trying this script and the bench on a laptop.

Usage: make_random_qwen2.py OUTDIR TOKENIZER_DIR [--shape qwen2.5-7b|tiny] [--device cuda|cpu]

Needs torch and safetensors (the GPU machine has both). Values: N(0, 0.02) for matrices, 1 for
norm weights, 0.02 N(0,1) for biases, so activations stay finite through 28 layers."""
import argparse
import json
import os
import shutil
import time

import torch
from safetensors.torch import save_file

SHAPES = {
    "qwen2.5-7b": dict(hidden_size=3584, intermediate_size=18944, num_attention_heads=28, num_hidden_layers=28,
                       num_key_value_heads=4, vocab_size=152064, max_position_embeddings=32768, shards=4),
    "tiny": dict(hidden_size=128, intermediate_size=256, num_attention_heads=4, num_hidden_layers=2,
                 num_key_value_heads=2, vocab_size=151936, max_position_embeddings=4096, shards=2),
}


def tensors_of(shape):
    """(name, shape, kind) in the order Hugging Face writes them; kind picks the initialisation."""
    h, inter, heads, kv = shape["hidden_size"], shape["intermediate_size"], shape["num_attention_heads"], shape["num_key_value_heads"]
    head_dim = h // heads
    out = [("model.embed_tokens.weight", (shape["vocab_size"], h), "matrix")]
    for i in range(shape["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (h,), "norm"),
            (p + "self_attn.q_proj.weight", (heads * head_dim, h), "matrix"),
            (p + "self_attn.q_proj.bias", (heads * head_dim,), "bias"),
            (p + "self_attn.k_proj.weight", (kv * head_dim, h), "matrix"),
            (p + "self_attn.k_proj.bias", (kv * head_dim,), "bias"),
            (p + "self_attn.v_proj.weight", (kv * head_dim, h), "matrix"),
            (p + "self_attn.v_proj.bias", (kv * head_dim,), "bias"),
            (p + "self_attn.o_proj.weight", (h, heads * head_dim), "matrix"),
            (p + "post_attention_layernorm.weight", (h,), "norm"),
            (p + "mlp.gate_proj.weight", (inter, h), "matrix"),
            (p + "mlp.up_proj.weight", (inter, h), "matrix"),
            (p + "mlp.down_proj.weight", (h, inter), "matrix"),
        ]
    out += [("model.norm.weight", (h,), "norm"), ("lm_head.weight", (shape["vocab_size"], h), "matrix")]
    return out


def make(name, dims, kind, device, gen):
    if kind == "norm":
        return torch.ones(dims, dtype=torch.bfloat16)
    t = torch.randn(dims, generator=gen, device=device, dtype=torch.float32)
    return (t * 0.02).to(torch.bfloat16).cpu()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("tokenizer_dir")
    ap.add_argument("--shape", default="qwen2.5-7b", choices=sorted(SHAPES))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    shape = SHAPES[args.shape]
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    gen = torch.Generator(device=args.device).manual_seed(0)
    specs = tensors_of(shape)
    total = sum(2 * int(torch.Size(d).numel()) for _, d, _ in specs)
    per_shard = total / shape["shards"]
    # Each shard is written as soon as it is full (the 7B model would not want 15 GB held twice),
    # under a temporary name, and renamed once the shard count is known.
    written, current, current_bytes = [], {}, 0

    def flush():
        tmp = os.path.join(args.out, f".shard-{len(written)}.tmp")
        save_file(current, tmp, metadata={"format": "pt"})
        written.append((tmp, list(current)))

    for name, dims, kind in specs:
        current[name] = make(name, dims, kind, args.device, gen)
        current_bytes += 2 * current[name].numel()
        if current_bytes >= per_shard and len(written) < shape["shards"] - 1:
            flush()
            current, current_bytes = {}, 0
    if current:
        flush()
    weight_map = {}
    for i, (tmp, names) in enumerate(written):
        fname = f"model-{i + 1:05d}-of-{len(written):05d}.safetensors"
        os.replace(tmp, os.path.join(args.out, fname))
        weight_map.update({k: fname for k in names})
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    config = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
        "bos_token_id": 151643, "eos_token_id": 151645, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "use_sliding_window": False,
        "sliding_window": 131072, "max_window_layers": shape["num_hidden_layers"],
        **{k: v for k, v in shape.items() if k != "shards"},
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    for fname in ("tokenizer.json", "tokenizer_config.json"):
        src = os.path.join(args.tokenizer_dir, fname)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(args.out, fname))
    print(f"{args.shape}: {total / 1e9:.2f} GB in {len(written)} shards, {time.time() - start:.1f} s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
