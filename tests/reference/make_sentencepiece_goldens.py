#!/usr/bin/env python3
"""SentencePiece models and golden ids from the Python `sentencepiece` package.

Usage: make_sentencepiece_goldens.py [FIXTURES_DIR]   (default: tests/fixtures next to this script)

Trains two small models on FIXTURES_DIR/sentencepiece/train.txt with the trainer arguments in
train_args.json (a Llama-style BPE with byte fallback and identity normalization, and a unigram
with NFKC and no byte fallback), writes them as <name>.model, and for every string of
tokenizer-goldens/corpus.json records:
  ids            sp.encode(text)                       (special-token text encoded literally)
  ids_special    the text split at control-symbol and "<unk>" text (leftmost, longest first),
                 each part encoded by sp.encode and each split-off symbol as its id, which is what
                 Hugging Face's slow LlamaTokenizer does with special tokens in text
  pieces         the pieces of `ids`
  decoded        sp.decode(ids)
  decoded_special / decoded_skip   ids_special decoded run by run between control ids, the control
                 ids written as their piece text / left out
Never edit the outputs by hand: rerun this. The C++ test trains the same models with Debian's
spm_train from the same arguments; the trainers are different releases and may break ties
differently, so the committed models are the ones the goldens belong to.
"""
import json
import os
import re
import sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))


def split_special(text, specials):
    if not specials:
        return [text]
    pattern = re.compile("(" + "|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True)) + ")")
    return pattern.split(text)


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "fixtures")
    folder = os.path.join(fixtures, "sentencepiece")
    with open(os.path.join(folder, "train_args.json"), encoding="utf-8") as f:
        train_args = json.load(f)
    with open(os.path.join(fixtures, "tokenizer-goldens", "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)

    for name, args in train_args.items():
        prefix = os.path.join(folder, name)
        spm.SentencePieceTrainer.train(
            f"--input={os.path.join(folder, 'train.txt')} --model_prefix={prefix} {args} --minloglevel=2")
        os.remove(prefix + ".vocab")
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        control = {sp.id_to_piece(i): i for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)}
        control = {k: v for k, v in control.items() if k}
        rows = []
        for text in corpus:
            ids = sp.encode(text)
            ids_special, decoded_special, decoded_skip = [], "", ""
            for i, part in enumerate(split_special(text, list(control))):
                if i % 2 == 1:
                    ids_special.append(control[part])
                else:
                    ids_special.extend(sp.encode(part))
            run = []
            for tid in ids_special + [None]:
                if tid is not None and not (sp.is_control(tid) and not sp.is_unknown(tid)):
                    run.append(tid)
                    continue
                decoded_special += sp.decode(run)
                decoded_skip += sp.decode(run)
                run = []
                if tid is not None:
                    decoded_special += sp.id_to_piece(tid)
            rows.append({
                "text": text,
                "ids": ids,
                "ids_special": ids_special,
                "pieces": [sp.id_to_piece(i) for i in ids],
                "decoded": sp.decode(ids),
                "decoded_special": decoded_special,
                "decoded_skip": decoded_skip,
            })
        golden = {
            "sentencepiece_version": spm.__version__,
            "model": name + ".model",
            "vocab_size": sp.get_piece_size(),
            "bos": sp.bos_id(), "eos": sp.eos_id(), "unk": sp.unk_id(), "pad": sp.pad_id(),
            "rows": rows,
        }
        with open(os.path.join(folder, f"goldens_{name}.json"), "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        print(f"{name}: {sp.get_piece_size()} pieces, {len(rows)} strings")


if __name__ == "__main__":
    main()
