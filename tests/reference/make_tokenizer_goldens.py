#!/usr/bin/env python3
"""Golden token ids from Hugging Face `tokenizers` for the tokenizer.json fixtures.

Usage: make_tokenizer_goldens.py [FIXTURES_DIR]   (default: tests/fixtures next to this script)

Writes FIXTURES_DIR/tokenizer-goldens/corpus.json (the strings) and ids_<name>.json for every
tokenizer in FIXTURES_DIR/tokenizers/<name>/tokenizer.json. For each string and tokenizer it records
the ids for the four modes (add_special_tokens False/True x special-token parsing on/off, where "off"
is HF's encode_special_tokens=True, i.e. split_special_tokens in transformers) and HF's decode of the
default-mode ids with skip_special_tokens False and True. Never edit the outputs by hand: rerun this.
"""
import itertools
import json
import os
import sys
import unicodedata

import tokenizers
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))

# Hand-written pieces: each is a string on its own and a building block for combinations.
PIECES = [
    # English and punctuation
    "Hello world", "hello", " Hello", "Hello", "HELLO WORLD!", "I'm sure you'll see they've won.",
    "Don't STOP", "(parenthesised) [bracketed] {braced}", "a.b,c;d:e!f?g", "...", "--flag=value",
    "snake_case_name and camelCaseName and PascalCase", "e.g. i.e. etc.", "$100.00 or €85,50 or ¥1000",
    # Chinese, Japanese, Korean
    "你好,世界", "人工智能正在改变世界。", "我们在北京天安门广场。", "繁體中文與简体中文", "这是一个测试句子,包含标点符号!",
    "日本語のテキストです。", "カタカナとひらがなと漢字", "ｱｲｳｴｵ半角カナ", "한국어 문장입니다.", "대한민국 서울특별시",
    # Arabic, Hebrew, Russian, Hindi, Thai, Greek
    "السلام عليكم ورحمة الله", "العربية: ١٢٣٤٥", "שלום עולם", "Съешь же ещё этих мягких французских булок",
    "ПРИВЕТ мир", "हिन्दी भाषा में वाक्य", "क्षत्रिय", "ภาษาไทย", "Ελληνικά γράμματα",
    # emoji, ZWJ sequences, flags, skin tones, variation selectors
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇬🇧🇯🇵", "🇩🇪", "❤️‍🔥", "☺︎ vs ☺️", "🤷🏻‍♀️", "1️⃣ keycap",
    # combining marks, NFC/NFD variants
    "e\u0301", "\u00e9", "a\u0308o\u0308u\u0308", "\u1e9b\u0323", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034d",
    "\u212b ohm \u2126", "ḱṷṓn", "한\u1100\u1161", unicodedata.normalize("NFD", "Việt Nam"), unicodedata.normalize("NFD", "가나다"),
    # code, tabs, long whitespace runs
    "def main():\n\tprint('hi')\n", "if (x) {\n        return y;\n    }", "\t\t\t\tindented", "x" + " " * 40 + "y",
    " " * 17, "\t \t \t", "#include <stdio.h>\nint main(void) { return 0; }", "fn main() { println!(\"{}\", 1 + 2); }",
    "<html><body class=\"a\">x</body></html>", "SELECT * FROM t WHERE a='b';", "a\u00a0b\u2003c\u3000d",
    "  \n  \n", "\n\n\n", "x = [1, 2, 3]  # list", "lambda x: x**2",
    # numbers of all lengths
    "0", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890", "3.14", "-42", "1e-10",
    "٣٤٥", "１２３", "2024年12月31日", "v2.0.1", "0.000001",
    # CRLF and other line ends
    "a\r\nb", "\r\n\r\n", "line\rcarriage", "x\u2028y\u2029z", "\x0bvt\x0cff",
    # special-token text inside text
    "<|im_start|>user\nhi<|im_end|>\n", "<|endoftext|>tail", "<|eot_id|>", "a<|eot_id|>b", "<s>[INST] hi [/INST]",
    "</s>", "<unk>", "<|begin_of_text|>Hello", "<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>", "<think>x</think>",
    "<tool_call>{}</tool_call>", "<|im_start|><|im_start|>", "<|im_end", "|im_end|>", "< |im_end| >",
    # invalid-looking and odd text
    "\ufffd", "\ufeffBOM", "\u200b\u200c\u200d", "\u0000nul", "\x7f\x01\x1f", "\ue000 private use", "\U0001F9FF\U000E0001",
    "▁already▁metaspace", "Ġbyte Ċ level", "<0x0A>", "\\u00e9 escaped", "\U00010348 gothic", "𝕳𝖊𝖆𝖗𝖙𝖍",
    # lone spaces and nothing
    "", " ", "  ", "   ", " a", "a ", " a ", "\n", "\t",
]

# Very long words and runs: exercise the BPE merge loop and any cache bound.
LONG = [
    "a" * 10000,
    "ab" * 5000,
    "".join(chr(0x4e00 + (i * 7919) % 20000) for i in range(3000)),
    "xyzzy" * 2000,
    "9" * 10000,
    " " * 5000,
    "🙂" * 2500,
    ("the quick brown fox " * 500).strip(),
]


def make_corpus(shared_corpus):
    corpus = list(PIECES)
    # Combinations: pairs joined with a space, with nothing, and with a newline, chosen with a fixed
    # stride so the set is stable from run to run.
    n = len(PIECES)
    for i in range(n):
        a, b = PIECES[i], PIECES[(i * 37 + 11) % n]
        corpus.append(a + " " + b)
        corpus.append(a + b)
        if i % 3 == 0:
            corpus.append(a + "\n" + b + "\r\n")
    for a, b, c in itertools.islice(zip(PIECES[::5], PIECES[1::7], PIECES[2::3]), 40):
        corpus.append(a + " " + b + "\t" + c)
    corpus += LONG
    corpus += shared_corpus
    seen, unique = set(), []
    for s in corpus:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "fixtures")
    goldens = os.path.join(fixtures, "tokenizer-goldens")
    shared_path = os.path.join(goldens, "shared_corpus.json")
    with open(shared_path, encoding="utf-8") as f:
        shared_corpus = json.load(f)
    corpus = make_corpus(shared_corpus)
    with open(os.path.join(goldens, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump(corpus, f, ensure_ascii=False, indent=0)

    tok_root = os.path.join(fixtures, "tokenizers")
    for name in sorted(os.listdir(tok_root)):
        path = os.path.join(tok_root, name, "tokenizer.json")
        if not os.path.isfile(path):
            continue
        plain = Tokenizer.from_file(path)
        literal = Tokenizer.from_file(path)
        literal.encode_special_tokens = True
        rows = []
        for text in corpus:
            row = {"text": text}
            for special, tok in (("special", plain), ("literal", literal)):
                for add in (False, True):
                    key = f"ids_{special}_{'add' if add else 'noadd'}"
                    row[key] = tok.encode(text, add_special_tokens=add).ids
            ids = row["ids_special_noadd"]
            row["decoded"] = plain.decode(ids, skip_special_tokens=False)
            row["decoded_skip"] = plain.decode(ids, skip_special_tokens=True)
            row["decoded_literal"] = plain.decode(row["ids_literal_noadd"], skip_special_tokens=False)
            rows.append(row)
        out = {"tokenizers_version": tokenizers.__version__, "tokenizer": name, "rows": rows}
        with open(os.path.join(goldens, f"ids_{name}.json"), "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        print(f"{name}: {len(rows)} strings")


if __name__ == "__main__":
    main()
