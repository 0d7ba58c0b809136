#!/usr/bin/env python3
"""Encoding speed: Hugging Face `tokenizers` (Rust, one thread) vs `hearth-cli bench-tokenize`.

Usage: bench_tokenize.py HEARTH_CLI [TOKENIZER_DIR ...]
  (defaults: the four tests/fixtures/tokenizers/*; run with a Python that has `tokenizers`,
   e.g. /work/main/.venv/bin/python)

Makes ~4 MB of mixed English / Chinese / code text (deterministic), writes it to a temporary file,
then for each tokenizer encodes the whole text as one string and line by line on both sides,
best of 3 runs each, and prints MB/s. RAYON_NUM_THREADS=1 keeps HF on one thread (encode() of one
string is single-threaded anyway; the variable also stops any batch parallelism).
"""
import os
import random
import re
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

ENGLISH = ("Hearth keeps one model warm in GPU memory and shows every second of the load. "
           "The quick brown fox jumps over the lazy dog; it's what we've been told, and they'd rather not. "
           "Decode at batch size one is bound by reading every weight once per token, so the target is the roofline. ")
CHINESE = ("冷启动时间从分钟级压缩至秒级。模型预加载优化技巧:提前加载并常驻显存。"
           "人工智能正在改变世界,我们在北京讨论大语言模型的推理速度和量化方法。")
CODE = ('def tokenize(text: str) -> list[int]:\n    ids = []\n    for word in re.findall(r"\\w+|\\S", text):\n'
        '        ids.extend(vocab.get(word, [0]))\n    return ids  # 42\n\n'
        'int main(int argc, char** argv) {\n\tfor (int i = 0; i < 1024; ++i) { printf("%d\\n", i * 3); }\n\treturn 0;\n}\n')


def make_text(target_bytes=4_000_000, seed=7):
    rng = random.Random(seed)
    words_en = re.findall(r"\S+", ENGLISH)
    chars_zh = list(CHINESE)
    parts, size = [], 0
    while size < target_bytes:
        kind = rng.random()
        if kind < 0.45:
            para = " ".join(rng.choice(words_en) for _ in range(rng.randint(20, 80))) + f" {rng.randint(0, 10**rng.randint(1, 9))}.\n"
        elif kind < 0.75:
            para = "".join(rng.choice(chars_zh) for _ in range(rng.randint(30, 120))) + "\n"
        else:
            para = CODE.replace("42", str(rng.randint(0, 99999)))
        parts.append(para)
        size += len(para.encode("utf-8"))
    return "".join(parts)


def best_of(fn, runs=3):
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def hearth(cli, tok_dir, path, lines):
    cmd = [cli, "bench-tokenize", tok_dir, path, "--repeat", "3"] + (["--lines"] if lines else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"best of \d+: ([0-9.]+) s, ([0-9.]+) MB/s", out)
    tokens = int(re.search(r"(\d+) tokens", out).group(1))
    return float(m.group(2)), tokens


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cli = sys.argv[1]
    dirs = sys.argv[2:] or [os.path.join(HERE, "..", "fixtures", "tokenizers", n) for n in ("qwen3", "llama3_1", "deepseek_v3", "llama2")]
    text = make_text()
    mb = len(text.encode("utf-8")) / 1e6
    lines = text.splitlines(keepends=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        print(f"text: {mb:.2f} MB, {len(lines)} lines")
        print(f"{'tokenizer':<14} {'mode':<6} {'HF MB/s':>9} {'Hearth MB/s':>12} {'ratio':>6}  tokens HF/Hearth")
        for d in dirs:
            name = os.path.basename(os.path.normpath(d))
            tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            for mode in ("whole", "lines"):
                if mode == "whole":
                    n_hf = len(tok.encode(text, add_special_tokens=False).ids)
                    s = best_of(lambda: tok.encode(text, add_special_tokens=False))
                else:
                    n_hf = sum(len(tok.encode(l, add_special_tokens=False).ids) for l in lines)
                    s = best_of(lambda: [tok.encode(l, add_special_tokens=False) for l in lines])
                hf = mb / s
                ours, n_ours = hearth(cli, d, path, mode == "lines")
                print(f"{name:<14} {mode:<6} {hf:9.2f} {ours:12.2f} {ours / hf:6.2f}  {n_hf}/{n_ours}", flush=True)
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
