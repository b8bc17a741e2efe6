#!/usr/bin/env python3
"""Reference cases for src/data/tokenizer.ts, made by Python SentencePiece (the oracle).

Writes (small, committed; CI has no sentencepiece):
  tests/fixtures/tokenizer_random_cases.jsonl   Llama 2 tokenizer.model on random and adversarial
                                                strings ({"text","ids","decoded"}) and random id
                                                lists ({"ids","decoded"}: decode-only cases)
  tests/fixtures/tokenizer_small_*.model        tiny BPE models trained here on the TinyStories
                                                sample, covering settings Llama 2 does not use
                                                (user-defined symbols, remove_extra_whitespaces,
                                                no byte fallback, no dummy prefix, UNUSED pieces)
  tests/fixtures/tokenizer_small_cases.jsonl    their cases ({"model","text","ids","decoded"})

usage: /usr/bin/python3 tools/tokenizer_cases.py [--data ../shared/data] [--seed 1234]
"""
import argparse
import json
import os
import random
import tempfile

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")

# Code point pools for random strings (no surrogates: they are not encodable text).
POOLS = {
    "ascii": [chr(c) for c in range(0x20, 0x7F)],
    "letters": list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "digits": list("0123456789"),
    "space": [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u3000", "\u00a0", "\u2009"],
    "control": [chr(c) for c in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0))],
    "latin": [chr(c) for c in range(0xC0, 0x250)],
    "combining": [chr(c) for c in range(0x300, 0x370)] + ["\u20dd", "\ufe0f", "\u200d"],
    "greek_cyrillic": [chr(c) for c in list(range(0x391, 0x3CA)) + list(range(0x410, 0x450))],
    "cjk": [chr(c) for c in list(range(0x4E00, 0x4E80)) + list(range(0x9F00, 0x9FA0))],
    "kana_hangul": [chr(c) for c in list(range(0x3041, 0x30FF)) + list(range(0xAC00, 0xAC80))],
    "rtl": [chr(c) for c in list(range(0x5D0, 0x5EB)) + list(range(0x621, 0x64B))],
    "emoji": [chr(c) for c in list(range(0x1F300, 0x1F330)) + list(range(0x1F600, 0x1F650))]
    + ["\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\u2764\ufe0f"],
    "astral": [chr(c) for c in [0x10000, 0x1D400, 0x1D7FF, 0x20000, 0x2A6D6, 0xE0001, 0x10FFFD]],
    "special": ["\u2581", "\ufeff", "\ufffd", "\u200b", "\ue000", "\uffff", "<s>", "</s>",
                "<unk>", "<0x41>", "<0x0A>", "\u2047", "\\", "\"", "'"],
}
WORDS = ("Once upon a time there was a little girl named Lily She loved to play outside "
         "with her friends One day Tom saw a big red ball and said can I have it "
         "happy sad dog cat tree sun because running jumped wonderful").split()


def rand_text(rng):
    kind = rng.random()
    if kind < 0.35:  # story-like words with random noise
        parts = []
        for _ in range(rng.randint(1, 25)):
            w = rng.choice(WORDS)
            if rng.random() < 0.15:
                w = w.upper() if rng.random() < 0.5 else w + rng.choice(".,!?;:'\"")
            parts.append(w)
            parts.append(rng.choice([" ", " ", " ", " ", "  ", "\n", ", ", " \t", "   "]))
        s = "".join(parts)
        if rng.random() < 0.3:
            s = rng.choice([" ", "  ", "\n", ""]) + s
        return s
    if kind < 0.85:  # mixed pools
        names = list(POOLS)
        weights = [rng.random() for _ in names]
        out = []
        for _ in range(rng.randint(0, 60)):
            pool = POOLS[rng.choices(names, weights)[0]]
            out.append(rng.choice(pool))
        return "".join(out)
    # long runs
    unit = rng.choice(["a", "ab", "the", "9", "12", " ", "\u2581", "\U0001F600", "\u4e00",
                       "e\u0301", "!", "\n", "xyz "])
    return unit * rng.randint(20, 150)


ADVERSARIAL = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", " \n ", "\u2581", "\u2581\u2581", " \u2581 ",
    "a", " a", "a ", " a ", "a  b", "a\u2581b", "\u2581a", "hello\u2581world", "hello  world",
    "1234567890", "3.14159", "2023-01-01", "$1,000,000", "0x1F", "1e10",
    "a" * 1000, "ab" * 300, " " * 100, "\n" * 50, "z" * 17, "pneumonoultramicroscopicsilicovolcanoconiosis",
    "\x00", "\x00\x01\x02", "a\x00b", "\x7f", "\x1b[31mred\x1b[0m",
    "e\u0301", "\u0301", "\u0301\u0301\u0301", "n\u0303o\u0308", "\u1100\u1161\u11a8",
    "\U0001F600", "\U0001F600\U0001F600", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",
    "\U0001F44D\U0001F3FF", "\U0001F1FA\U0001F1F8", "\u2764\ufe0f", "#\ufe0f\u20e3",
    "\u4f60\u597d\u4e16\u754c", "\u3053\u3093\u306b\u3061\u306f", "\uc548\ub155\ud558\uc138\uc694",
    "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd", "\u0928\u092e\u0938\u094d\u0924\u0947",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\U00020000\U0002A6D6", "\U0010FFFD", "\U000E0001",
    "\ufeffBOM", "\ufeff", "\ufffd", "\u200b", "\u00a0", "\u3000", "\u2028\u2029",
    "<s>", "</s>", "<unk>", "<s>hello</s>", "<0x41>", "<0x0A>", "\u2047",
    "Lily and Ben are friends.\n\nThey play.", "Hello, World! How are you?",
    "It's a dog's life, isn't it?", "\"Quoted\" text and 'single' quotes",
    "tabs\t\tand\t\t\ttabs", "trailing spaces   ", "   leading spaces",
    "mixed \u4e2d\u6587 and English", "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "\u00c5ngstr\u00f6m \u00df \u00e6\u00f8\u00e5", "\u0391\u03b8\u03ae\u03bd\u03b1 \u041c\u043e\u0441\u043a\u0432\u0430",
]


def piece_rng_ids(rng, sp):
    """Random id lists for decode-only cases: bytes (valid and broken UTF-8), controls, unk."""
    n = sp.get_piece_size()
    out = []
    byte_id = {sp.id_to_piece(i): i for i in range(n) if sp.is_byte(i)}
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.3:
            out.append(rng.randrange(n))
        elif r < 0.45:
            out.append(rng.choice([0, 1, 2]))
        elif r < 0.75 and byte_id:
            text = rng.choice(["\u00e9", "\u4e2d", "\U0001F600", "a", "\n"]).encode("utf-8")
            bs = list(text)
            if rng.random() < 0.4:  # break it
                bs = bs[: rng.randrange(len(bs) + 1)] + [rng.randrange(256)]
            out.extend(byte_id["<0x%02X>" % b] for b in bs)
        else:
            out.append(sp.piece_to_id("\u2581" * rng.randint(1, 4)))
    return out


def train_small(data, prefix, **kw):
    args = dict(
        input=os.path.join(data, "tinystories_valid_sample.txt"),
        model_prefix=prefix, model_type="bpe", vocab_size=700, character_coverage=1.0,
        normalization_rule_name="identity", num_threads=1, input_sentence_size=0,
        minloglevel=2,
    )
    args.update(kw)
    spm.SentencePieceTrainer.train(**args)
    with open(prefix + ".model", "rb") as f:
        return f.read()


def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _put_varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def mark_unused(model, every):
    """Marks every `every`-th merged NORMAL piece (length >= 2 chars) as UNUSED (type 5)."""
    out = bytearray()
    i = k = 0
    while i < len(model):
        start = i
        tag, i = _varint(model, i)
        if tag & 7 == 2:
            ln, j = _varint(model, i)
            body = model[j:j + ln]
            i = j + ln
            if tag >> 3 == 1 and b"\x18" not in body[-2:]:
                plen, p = _varint(body, 1)
                piece = body[p:p + plen].decode("utf-8")
                if len(piece) >= 2:
                    k += 1
                    if k % every == 0:
                        body = body + b"\x18\x05"
                out += _put_varint(tag) + _put_varint(len(body)) + body
                continue
            out += model[start:i]
        elif tag & 7 == 0:
            _, i = _varint(model, i)
            out += model[start:i]
        elif tag & 7 == 5:
            i += 4
            out += model[start:i]
        else:
            raise ValueError("unexpected wire type")
    return bytes(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--n", type=int, default=250)
    a = ap.parse_args()
    rng = random.Random(a.seed)

    sp = spm.SentencePieceProcessor(model_file=os.path.join(a.data, "tokenizer.model"))
    texts = ADVERSARIAL + [rand_text(rng) for _ in range(a.n)]
    with open(os.path.join(FIX, "tokenizer_random_cases.jsonl"), "w", encoding="utf-8") as f:
        for t in texts:
            ids = sp.encode(t)
            f.write(json.dumps({"text": t, "ids": ids, "decoded": sp.decode(ids)}, ensure_ascii=False) + "\n")
        for _ in range(60):
            ids = piece_rng_ids(rng, sp)
            f.write(json.dumps({"ids": ids, "decoded": sp.decode(ids)}, ensure_ascii=False) + "\n")

    small_texts = [t for t in ADVERSARIAL + [rand_text(rng) for _ in range(60)] if len(t) <= 200]
    small_texts += [
        "a <sep> b", "<sep><sep>", "x<sep>y", "@@@@", "Lily@@Tom", "year 2024 and 12345",
        "  many   spaces   here  ", "\u2581<sep>\u2581",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        models = {
            "tokenizer_small_bpe.model": train_small(
                a.data, os.path.join(tmp, "a"), byte_fallback=True, split_digits=True,
                user_defined_symbols=["<sep>", "@@", "Lily"], remove_extra_whitespaces=True),
            "tokenizer_small_nofallback.model": train_small(
                a.data, os.path.join(tmp, "b"), byte_fallback=False, add_dummy_prefix=False,
                remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
                character_coverage=0.98),
            "tokenizer_small_suffix.model": train_small(
                a.data, os.path.join(tmp, "c"), byte_fallback=True,
                treat_whitespace_as_suffix=True, remove_extra_whitespaces=False),
        }
    models["tokenizer_small_unused.model"] = mark_unused(models["tokenizer_small_bpe.model"], 3)
    with open(os.path.join(FIX, "tokenizer_small_cases.jsonl"), "w", encoding="utf-8") as f:
        for name, blob in models.items():
            with open(os.path.join(FIX, name), "wb") as g:
                g.write(blob)
            m = spm.SentencePieceProcessor(model_proto=blob)
            for t in small_texts:
                ids = m.encode(t)
                f.write(json.dumps({"model": name, "text": t, "ids": ids,
                                    "decoded": m.decode(ids)}, ensure_ascii=False) + "\n")
    print("wrote", len(texts), "Llama cases and", len(models), "small models")


if __name__ == "__main__":
    main()
