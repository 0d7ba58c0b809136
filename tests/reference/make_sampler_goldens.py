#!/usr/bin/env python3
"""Sampler goldens for tests/core/tst_sampler.cpp, computed by transformers' own logits processors.

For fixed random logit rows (vocab sizes 1, 7, 83, 769, 5125) and a table of sampling settings this
applies, in generate()'s order, SequenceBiasLogitsProcessor (logit_bias), RepetitionPenaltyLogitsProcessor
(over prompt + generated ids), OpenAI's frequency and presence penalties over the generated ids (not
in transformers; written here as vLLM's apply_penalties does them), TemperatureLogitsWarper,
TopKLogitsWarper, TopPLogitsWarper and MinPLogitsWarper, all in float32, and records which ids stay
finite and the softmax of the processed row at those ids.

Processors are skipped where generate() skips them (temperature 1, top_k 0, top_p 1, min_p 0,
repetition_penalty 1), since some of them are not the identity at those values.

Usage: /work/main/.venv/bin/python tests/reference/make_sampler_goldens.py tests/fixtures/sampler/goldens.json
(needs torch and transformers from PyPI)."""
import json
import math
import sys

import numpy as np
import torch
import transformers
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    SequenceBiasLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

VOCABS = [1, 7, 83, 769, 5125]

# Each setting: sampling parameters plus how the prompt/generated history is drawn.
#   prompt / generated: number of ids drawn (with repeats) from the low end of the vocabulary.
#   bias: list of (rank in the history or "top"/"low", value) turned into {id: bias}.
SETTINGS = [
    {"name": "plain"},
    {"name": "cold", "temperature": 0.7},
    {"name": "hot_topk5", "temperature": 1.5, "top_k": 5},
    {"name": "topk50_topp09", "temperature": 0.8, "top_k": 50, "top_p": 0.9},
    {"name": "topp05", "top_p": 0.5},
    {"name": "topp_tiny", "top_p": 0.01},
    {"name": "topp_deep", "temperature": 2.0, "top_p": 0.99},
    {"name": "minp005", "min_p": 0.05},
    {"name": "topk_huge", "top_k": 100000, "temperature": 0.9},
    {"name": "all_filters", "temperature": 0.6, "top_k": 40, "top_p": 0.95, "min_p": 0.02,
     "repetition_penalty": 1.3, "prompt": 30, "generated": 10},
    {"name": "rep_boost_bias", "repetition_penalty": 0.8, "prompt": 12, "generated": 4,
     "bias": [("top", -100.0), ("low", 5.0)]},
    {"name": "presence_frequency", "presence_penalty": 0.5, "frequency_penalty": 0.3,
     "prompt": 8, "generated": 20, "bias": [("low", -2.5)]},
    {"name": "negative_penalties", "presence_penalty": -1.0, "frequency_penalty": -0.25,
     "repetition_penalty": 1.1, "generated": 15, "top_p": 0.8},
    {"name": "ban_top_greedyish", "temperature": 0.05, "bias": [("top", -100.0)], "min_p": 0.5},
]


def frequency_presence(scores, generated, frequency, presence):
    """vLLM's apply_penalties for one row: logits -= frequency * count; logits -= presence * (count > 0)."""
    counts = torch.zeros(scores.shape[-1], dtype=torch.float32)
    for t in generated:
        counts[t] += 1.0
    scores = scores - frequency * counts
    scores = scores - presence * (counts > 0).to(torch.float32)
    return scores


def process(logits, setting, prompt, generated, bias):
    scores = torch.tensor([logits], dtype=torch.float32)
    input_ids = torch.tensor([prompt + generated], dtype=torch.long)
    pre = LogitsProcessorList()
    if bias:
        pre.append(SequenceBiasLogitsProcessor(sequence_bias=[[[int(k)], float(v)] for k, v in bias.items()]))
    if setting.get("repetition_penalty", 1.0) != 1.0 and input_ids.shape[1] > 0:
        pre.append(RepetitionPenaltyLogitsProcessor(penalty=setting["repetition_penalty"]))
    scores = pre(input_ids, scores)
    if setting.get("presence_penalty", 0.0) or setting.get("frequency_penalty", 0.0):
        scores = frequency_presence(scores, generated, setting.get("frequency_penalty", 0.0),
                                    setting.get("presence_penalty", 0.0))
    warpers = LogitsProcessorList()
    if setting.get("temperature", 1.0) != 1.0:
        warpers.append(TemperatureLogitsWarper(setting["temperature"]))
    if setting.get("top_k", 0) > 0:
        warpers.append(TopKLogitsWarper(top_k=setting["top_k"]))
    if setting.get("top_p", 1.0) < 1.0:
        warpers.append(TopPLogitsWarper(top_p=setting["top_p"]))
    if setting.get("min_p", 0.0) > 0.0:
        warpers.append(MinPLogitsWarper(min_p=setting["min_p"]))
    ranked = (scores / setting.get("temperature", 1.0))[0]
    scores = warpers(input_ids, scores)[0]
    kept = torch.nonzero(torch.isfinite(scores)).flatten().tolist()
    # Which of equal logits top-p keeps is up to torch.sort, which is not stable: no golden may
    # depend on it, so every tie must be kept or removed as a whole.
    kept_set = set(kept)
    by_value = {}
    for i, v in enumerate(ranked.tolist()):
        by_value.setdefault(v, set()).add(i)
    for v, ids in by_value.items():
        if len(ids) > 1 and math.isfinite(v) and 0 < len(ids & kept_set) < len(ids):
            raise SystemExit(f"{setting['name']}: tie at {v} split by the filters: {sorted(ids)}")
    probs = torch.softmax(scores, dim=-1)
    return kept, [float(probs[i]) for i in kept]


MASK64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def seeded_draws(logits, temperature, seed, n):
    """The draw Hearth documents, written out independently: state = mix64(seed); each draw steps
    splitmix64, takes its top 53 bits as u in [0, 1), and walks the softmax weights in id order until
    the running sum passes u * total. Pins the generator so a change to it is deliberate."""
    row = np.asarray(logits, dtype=np.float32)
    shifted = ((row - row.max()) / np.float32(temperature)).astype(np.float32)
    weights = np.exp(shifted.astype(np.float64))
    total = float(sum(weights))
    state = mix64(seed)
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        u = (mix64(state) >> 11) * 2.0 ** -53
        target = u * total
        cumulative = 0.0
        for token, w in enumerate(weights):
            chosen = token
            cumulative += w
            if target < cumulative:
                break
        out.append(chosen)
    return out


def main():
    out_path = sys.argv[1]
    rng = np.random.default_rng(20240604)
    rows = {}
    for vocab in VOCABS:
        # Logits spread like a small language model's; written with 9 digits, which float32 round-trips.
        row = rng.normal(0.0, 3.0, size=vocab).astype(np.float32)
        if vocab == 7:
            # A tie across the top-5 boundary (HF top-k keeps all of a tie).
            row[:] = [1.5, 2.25, 0.0, -0.5, 2.0, -0.5, -3.0]
        rows[vocab] = row
    cases = []
    for vocab in VOCABS:
        row = rows[vocab]
        order = np.argsort(-row, kind="stable")
        for setting in SETTINGS:
            low = max(1, min(vocab, 20))
            prompt = [int(t) for t in rng.integers(0, low, size=setting.get("prompt", 0))]
            generated = [int(t) for t in rng.integers(0, low, size=setting.get("generated", 0))]
            bias = {}
            for where, value in setting.get("bias", []):
                token = int(order[0]) if where == "top" else int(order[-1])
                bias[token] = value
            kept, probs = process(row.tolist(), setting, prompt, generated, bias)
            params = {k: v for k, v in setting.items() if k not in ("name", "prompt", "generated", "bias")}
            cases.append({
                "name": f"{setting['name']}/v{vocab}",
                "vocab": vocab,
                "params": params,
                "prompt": prompt,
                "generated": generated,
                "logit_bias": {str(k): v for k, v in bias.items()},
                "kept": kept,
                "probs": [float(f"{p:.8g}") for p in probs],
            })
    doc = {
        "generator": "tests/reference/make_sampler_goldens.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "logits": {str(v): [float(f"{x:.9g}") for x in rows[v].tolist()] for v in VOCABS},
        "cases": cases,
        "seeded": [{"vocab": 83, "temperature": t, "seed": seed, "tokens": seeded_draws(rows[83], t, seed, 40)}
                   for seed, t in [(0, 1.0), (42, 1.0), (MASK64, 3.0), (123456789, 7.5)]],
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
