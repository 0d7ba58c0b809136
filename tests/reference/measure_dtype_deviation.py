#!/usr/bin/env python3
"""How far Hugging Face transformers itself drifts from the fp32 goldens when it runs the reference
models in fp16 and bf16: the yardstick for the half-precision tolerances of the CUDA backend tests
(tests/gpu/tst_cuda_backend.cpp, tst_cuda_load.cpp). Hearth's fp16/bf16 runs are held to about what
the reference implementation achieves in the same number format, not to fp32 accuracy.

Usage: measure_dtype_deviation.py MODELS_DIR GOLDEN_JSON
MODELS_DIR holds the reference models (ref-qwen2-d64, ref-qwen2-d128, ref-qwen2-d64-lora) as written
by `hearth-cli gen-reference`; GOLDEN_JSON is tests/fixtures/reference-models/golden.json.
Prints, per model and dtype, the worst |log-prob - golden| over every golden top-k entry, and where,
and the positions where transformers' own top-1 differs from golden's although golden's margin
between its top-1 and top-2 exceeds 0.05 (the tests' top-1 check): in bf16 such flips happen to the
reference implementation too, at margins up to about twice its log-prob error.
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM

MARGIN = 0.05  # tst_cuda_backend's kMargin


def load(models_dir, name, dtype):
    base, _, adapter = name.partition("+")
    model = AutoModelForCausalLM.from_pretrained(f"{models_dir}/{base}", torch_dtype=dtype)
    if adapter:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, f"{models_dir}/{adapter}", torch_dtype=dtype)
    return model.eval()


def main():
    models_dir, golden_path = sys.argv[1], sys.argv[2]
    golden = json.load(open(golden_path))
    result = {}
    for name in ("ref-qwen2-d64", "ref-qwen2-d128", "ref-qwen2-d64+ref-qwen2-d64-lora"):
        for dtype in (torch.float16, torch.bfloat16):
            model = load(models_dir, name, dtype)
            worst, where = 0.0, None
            flips = []
            for p, prompt in enumerate(golden[name]):
                with torch.no_grad():
                    logits = model(torch.tensor([prompt["ids"]])).logits[0].double()
                logprobs = torch.log_softmax(logits, -1)
                for i in range(len(prompt["ids"])):
                    top, lps = prompt["top_ids"][i], prompt["top_logprobs"][i]
                    if lps[0] - lps[1] > MARGIN and int(torch.argmax(logits[i])) != top[0]:
                        flips.append({"prompt": p, "position": i, "margin": round(lps[0] - lps[1], 4)})
                    for token, ref in zip(prompt["top_ids"][i], prompt["top_logprobs"][i]):
                        diff = abs(logprobs[i, token].item() - ref)
                        if diff > worst:
                            worst, where = diff, {"prompt": p, "position": i, "token": token}
            key = f"{name} {str(dtype).removeprefix('torch.')}"
            result[key] = {"worst_logprob_diff": round(worst, 4), "at": where, "top1_flips_above_margin": flips}
            print(key, result[key], flush=True)
    print(json.dumps({"transformers": __import__("transformers").__version__,
                      "torch": torch.__version__, "deviation": result}, indent=1))


if __name__ == "__main__":
    main()
