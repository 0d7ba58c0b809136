#!/usr/bin/env python3
"""Golden token ids of rendered chat prompts, for the `hearth-cli render-chat --ids` test.

Usage: make_cli_goldens.py [FIXTURES_DIR]   (default: tests/fixtures next to this script)

For every case of chat-goldens/hf_chat_<name>.json (prompts rendered by transformers'
apply_chat_template with the chat_template of tokenizers/<name>/tokenizer_config.json), records
Hugging Face `tokenizers`' ids of the prompt with add_special_tokens=False, which is what
apply_chat_template(tokenize=True) returns. Writes cli-goldens/render_ids.json. Never edit the
output by hand: rerun this.
"""
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ["qwen3", "llama3_1", "deepseek_v3"]


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "fixtures")
    out = {"tokenizers_version": tokenizers.__version__, "models": {}}
    for name in NAMES:
        tok = Tokenizer.from_file(os.path.join(fixtures, "tokenizers", name, "tokenizer.json"))
        with open(os.path.join(fixtures, "chat-goldens", f"hf_chat_{name}.json"), encoding="utf-8") as f:
            cases = json.load(f)
        out["models"][name] = [tok.encode(case["prompt"], add_special_tokens=False).ids for case in cases]
    os.makedirs(os.path.join(fixtures, "cli-goldens"), exist_ok=True)
    with open(os.path.join(fixtures, "cli-goldens", "render_ids.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, separators=(",", ":"))
    print({k: len(v) for k, v in out["models"].items()})


if __name__ == "__main__":
    main()
