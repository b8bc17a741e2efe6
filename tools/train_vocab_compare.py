#!/usr/bin/env python3
"""Compare babyllama's `train-vocab` with SentencePiece's BPE trainer (llama2.c's settings).

Needs python sentencepiece (0.1.97 was used) and deno; run from the repository root:

  /usr/bin/python3 tools/train_vocab_compare.py [--vocab-size 4096] [--mb 10] [--seed 0]
      [--work /tmp/train_vocab_compare]
      Builds ~MB of TinyStories-like text by sampling sentences (in random order) from 4/5 of
      the 176 stories in tinystories_valid_sample.txt, writes it as a TinyStories shard
      (WORK/data/TinyStories_all_data/data00.json) and as llama2.c's text file (one stripped
      story per line), trains SentencePiece on the text and `main.ts train-vocab` on the shard,
      then on the held-out 1/5 of the stories reports tokens per byte of both models, checks
      that python sentencepiece loads our tok{N}.model and encodes exactly like our Tokenizer,
      and reports both training times.

  /usr/bin/python3 tools/train_vocab_compare.py --fixtures
      Writes tests/fixtures/vocab_sp_*.json: SentencePiece vocabularies (and encodings) of small
      corpora that tests/data/bpe_trainer_test.ts compares the TypeScript trainer with.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = "tinystories_valid_sample.txt"


def shared_data(name):
    env = os.environ.get("BABYLLAMA_DATA_DIR")
    for d in ([env] if env else []) + [os.path.join(ROOT, "..", "shared", "data")]:
        p = os.path.join(d, name)
        if os.path.isfile(p):
            return p
    sys.exit(f"cannot find {name} (set BABYLLAMA_DATA_DIR)")


def sample_stories():
    text = open(shared_data(SAMPLE), encoding="utf-8").read()
    return [s.strip() for s in text.split("<|endoftext|>") if s.strip()]


def train_sp(text_path, prefix, vocab_size):
    """llama2.c's tinystories.py train_vocab call."""
    spm.SentencePieceTrainer.train(
        input=text_path, model_prefix=prefix, model_type="bpe", vocab_size=vocab_size,
        self_test_sample_size=0, input_format="text", character_coverage=1.0,
        num_threads=os.cpu_count(), split_digits=True, allow_whitespace_only_pieces=True,
        byte_fallback=True, unk_surface=r" \342\201\207 ", normalization_rule_name="identity",
        minloglevel=2)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def pieces_of(sp):
    return [[sp.id_to_piece(i), sp.get_score(i)] for i in range(sp.get_piece_size())]


# Lines that exercise every rule: digits, runs of spaces, tabs, meta-piece strings, literal U+2581,
# other scripts, combining marks, emoji, full-width digits, a too-long line, a reserved character.
EDGE_LINES = [
    "Café  naïve  résumé 12345 and 2024!", "  leading and trailing   ",
    "tab\there\tand <s> and </s> <unk> <0x41> x", "日本語のテキストとカタカナ ひらがな 漢字",
    "emoji 😀😀 😀 smile 🎉", "combining e\u0301 e\u0301 cafe\u0301",
    "literal \u2581\u2581 foo\u2581bar \u2581\u2581\u2581", "Привет мир Привет", "αβγ αβγ δ",
    "3.14 and 42nd 1st", "x" * 5000, "reserved \u2585 line", "full width ０１２",
    "\u00a0nbsp\u00a0 x", "a-b a_b (c) [d] {e}", "aaaa aaa aa bbbbbb!!!! ...",
]


def make_fixtures():
    out_dir = os.path.join(ROOT, "tests", "fixtures")
    os.makedirs(out_dir, exist_ok=True)
    stories = sample_stories()
    with tempfile.TemporaryDirectory() as tmp:
        # 1. The sample stories as llama2.c writes them; vocabularies of two sizes.
        path = os.path.join(tmp, "sample.txt")
        with open(path, "w", encoding="utf-8") as f:
            for s in stories:
                f.write(s + "\n")
        cases = ["Once upon a time, there was a little girl named Lily.",
                 "  Two  spaces, a tab\tand digits 2024; Ω and 😀 fall back to bytes.",
                 "He said, \"Let's play!\" She smiled."]
        for n in (512, 1200):
            sp = train_sp(path, os.path.join(tmp, f"s{n}"), n)
            fx = {"source": SAMPLE, "split": "<|endoftext|>, strip, one story per line",
                  "vocab_size": n, "sentencepiece": spm.__version__, "pieces": pieces_of(sp),
                  "encode": [[t, sp.encode(t)] for t in cases]}
            _write_json(os.path.join(out_dir, f"vocab_sp_sample{n}.json"), fx)
        # 2. The edge corpus: the sample's first 15 stories with edge lines mixed in.
        rng = random.Random(1)
        lines = [line for s in stories[:15] for line in s.split("\n")]
        for _ in range(120):
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(EDGE_LINES))
        path = os.path.join(tmp, "edge.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        sp = train_sp(path, os.path.join(tmp, "edge"), 520)
        # Lines are stored once each with their multiplicity (the trainer only counts words).
        counts = {}
        for line in lines:
            counts[line] = counts.get(line, 0) + 1
        fx = {"lines": [[k, v] for k, v in counts.items()], "vocab_size": 520,
              "sentencepiece": spm.__version__, "pieces": pieces_of(sp)}
        _write_json(os.path.join(out_dir, "vocab_sp_edge.json"), fx)
        # 3. Pieces capped at 16 characters, and pairs of frequency 0 filling the vocabulary.
        line = "abcdefghijklmnopqrstuvwxyz0123 abcdefghijklmnopqrstuvwxyz the end"
        path = os.path.join(tmp, "long.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write((line + "\n") * 30)
        sp = train_sp(path, os.path.join(tmp, "long"), 340)
        fx = {"lines": [[line, 30]], "vocab_size": 340, "sentencepiece": spm.__version__,
              "pieces": pieces_of(sp)}
        _write_json(os.path.join(out_dir, "vocab_sp_long.json"), fx)
    print("wrote tests/fixtures/vocab_sp_{sample512,sample1200,edge,long}.json")


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)


def make_corpus(train_stories, mb, seed):
    """Stories of 4-14 sentences drawn at random from the training stories' sentences."""
    rng = random.Random(seed)
    sents = []
    for s in train_stories:
        for para in s.split("\n"):
            sents += [x for x in re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", para.strip()) if x]
    out, size = [], 0
    while size < mb * 1e6:
        k = rng.randint(4, 14)
        parts = []
        for j in range(k):
            parts.append(rng.choice(sents))
            if j < k - 1:
                parts.append("\n" if rng.random() < 0.15 else " ")
        story = "".join(parts)
        out.append(story)
        size += len(story.encode("utf-8")) + 1
    return out, len(sents)


def compare(args):
    work = args.work
    os.makedirs(os.path.join(work, "data", "TinyStories_all_data"), exist_ok=True)
    stories = sample_stories()
    held = [s for i, s in enumerate(stories) if i % 5 == 4]
    train = [s for i, s in enumerate(stories) if i % 5 != 4]
    corpus, nsent = make_corpus(train, args.mb, args.seed)
    shard = os.path.join(work, "data", "TinyStories_all_data", "data00.json")
    with open(shard, "w", encoding="utf-8") as f:
        json.dump([{"story": s} for s in corpus], f)
    text_path = os.path.join(work, "tiny.txt")
    with open(text_path, "w", encoding="utf-8") as f:
        for s in corpus:
            f.write(s.strip() + "\n")
    mbytes = os.path.getsize(text_path) / 1e6
    print(f"corpus: {len(corpus)} stories, {mbytes:.2f} MB, sampled from {nsent} sentences of "
          f"{len(train)} stories; held out: {len(held)} stories")

    n = args.vocab_size
    t = time.time()
    sp_ref = train_sp(text_path, os.path.join(work, f"sp{n}"), n)
    sp_s = time.time() - t
    print(f"sentencepiece {spm.__version__} train ({os.cpu_count()} threads): {sp_s:.2f} s")

    bench = ["deno", "run", "-A", os.path.join(ROOT, "tools", "bench_train_vocab.ts")]
    r = subprocess.run(bench + ["text", text_path, str(n)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench text failed ({r.returncode}): {r.stderr}")
    b = json.loads(r.stdout)
    print(f"babyllama BpeTrainer on the same text file: {b['readSeconds'] + b['trainSeconds']:.2f} s"
          f" (read+count {b['readSeconds']:.2f} s, merges {b['trainSeconds']:.2f} s; "
          f"{b['words']} distinct words, {b['merges']} merges, {b['chars']} characters)")
    cmd = ["deno", "run", "-A", os.path.join(ROOT, "main.ts"), "train-vocab", "--vocab-size",
           str(n), "--data-dir", os.path.join(work, "data"), "--num-shards", "1"]
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:  # main.ts unavailable: the same library call through the bench tool
        print(f"  (main.ts failed: {r.stderr.strip().splitlines()[0] if r.stderr else r.returncode}"
              "; timing tools/bench_train_vocab.ts shards instead)")
        t = time.time()
        r = subprocess.run(bench + ["shards", os.path.join(work, "data"), str(n), "1"],
                           capture_output=True, text=True)
    ours_s = time.time() - t
    if r.returncode != 0:
        sys.exit(f"train-vocab failed ({r.returncode}): {r.stderr}")
    print(f"babyllama train-vocab on the JSON shard (whole process): {ours_s:.2f} s\n"
          f"  {r.stdout.strip()}")
    model = os.path.join(work, "data", f"tok{n}.model")
    sp_ours = spm.SentencePieceProcessor(model_file=model)
    assert sp_ours.get_piece_size() == n, sp_ours.get_piece_size()

    ref_p, our_p = pieces_of(sp_ref), pieces_of(sp_ours)
    same = next((i for i in range(n) if ref_p[i] != our_p[i]), n)
    common = len({p for p, _ in ref_p} & {p for p, _ in our_p})
    print(f"vocabularies: identical for the first {same} of {n} ids; {common} pieces in common")

    nbytes = sum(len(s.encode("utf-8")) for s in held)
    tok_ref = sum(len(sp_ref.encode(s)) for s in held)
    tok_ours = sum(len(sp_ours.encode(s)) for s in held)
    print(f"held-out tokens/byte: sentencepiece {tok_ref / nbytes:.5f}, ours "
          f"{tok_ours / nbytes:.5f} ({100 * (tok_ours / tok_ref - 1):+.2f}%), {nbytes} bytes")

    # Our Tokenizer on our model must encode exactly like python sentencepiece on our model.
    held_path = os.path.join(work, "heldout.json")
    extra = ["  Two  spaces,\ta tab, digits 2024, Ω and 😀.", "<s> and </s> are text here."]
    with open(held_path, "w", encoding="utf-8") as f:
        json.dump(held + extra, f)
    enc = subprocess.run(["deno", "run", "-A", os.path.join(ROOT, "tools", "bench_train_vocab.ts"),
                          "encode", model, held_path], capture_output=True, text=True)
    if enc.returncode != 0:
        sys.exit(f"encode failed: {enc.stderr}")
    ours_ids = json.loads(enc.stdout)
    bad = [i for i, s in enumerate(held + extra) if sp_ours.encode(s) != ours_ids[i]]
    print(f"our Tokenizer vs python sentencepiece on tok{n}.model: "
          f"{len(held) + len(extra) - len(bad)}/{len(held) + len(extra)} texts identical")
    if bad:
        s = (held + extra)[bad[0]]
        print("  first mismatch:", repr(s[:80]), sp_ours.encode(s)[:20], ours_ids[bad[0]][:20])
    ok = not bad and abs(tok_ours / tok_ref - 1) <= 0.02
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", action="store_true", help="write tests/fixtures/vocab_sp_*.json")
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--mb", type=float, default=10.0, help="corpus size in MB")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "train_vocab_compare"))
    args = ap.parse_args()
    if args.fixtures:
        make_fixtures()
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
