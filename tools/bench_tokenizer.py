#!/usr/bin/env python3
"""SentencePiece encode speed on the TinyStories sample, one sp.encode call per story (as
pretokenize does), single-threaded. Prints one JSON line. Pair: tools/bench_tokenizer.ts.

usage: /usr/bin/python3 tools/bench_tokenizer.py --model M --text T [--passes 10]
"""
import argparse
import json
import os
import time

import sentencepiece as spm

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--text", required=True)
ap.add_argument("--passes", type=int, default=5)
a = ap.parse_args()

sp = spm.SentencePieceProcessor(model_file=a.model)
with open(a.text, encoding="utf-8") as f:
    stories = [s.strip() for s in f.read().split("<|endoftext|>")]
stories = [s for s in stories if s]
nbytes = sum(len(s.encode("utf-8")) for s in stories)
times = []
ntok = 0
for _ in range(a.passes):
    t = time.perf_counter()
    ntok = 0
    for s in stories:
        ntok += len(sp.encode(s))
    times.append(time.perf_counter() - t)
best = min(times)
# The random/adversarial fixture strings (mostly unique words), as bench_tokenizer.ts does.
fix = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests",
                   "fixtures", "tokenizer_random_cases.jsonl")
with open(fix, encoding="utf-8") as f:
    uniq = [c["text"] for c in map(json.loads, f) if "text" in c]
ubytes = sum(len(s.encode("utf-8")) for s in uniq)
utimes = []
for _ in range(a.passes):
    t = time.perf_counter()
    for s in uniq:
        sp.encode(s)
    utimes.append(time.perf_counter() - t)
print(json.dumps({"impl": "sentencepiece " + spm.__version__, "stories": len(stories),
                  "bytes": nbytes, "tokens": ntok, "best_s": best, "MBps": nbytes / best / 1e6,
                  "first_MBps": nbytes / times[0] / 1e6,
                  "unique_strings_MBps": ubytes / min(utimes) / 1e6}))
