#!/usr/bin/env bash
# Sampling speed against llama2.c's run.c, back to back on the same machine (the ratio is the
# figure to trust when the machine is shared: both programs see the same load).
#
# usage: tools/bench_sample.sh PATH/TO/run.c [ROUNDS] [DATA_DIR] [-- extra `sample` flags]
#   run.c    llama2.c's run.c (not part of this repository: fetch it yourself); compiled with
#            `gcc -O3 -lm` into a temporary directory
#   ROUNDS   rounds of the four runs below (default 3)
#   DATA_DIR holds stories260K.bin and tokenizer.bin (default: ../shared/data beside the repo)
#   extra flags go to our `sample` (e.g. -- --decode-variant layered_wg8_split1)
#
# Each round runs, greedy (temperature 0) with the same model file for both programs:
#   1. the 15M shape (dim 288, 6 layers, 6 heads, vocab 32000, seq 256; initParams seed 1337,
#      written as a v0 .bin) with tokenizer.bin, prompt "Once upon a time", 256 steps;
#   2. stories260K.bin with an id tokenizer (512 pieces `<tN>`, as tools/runc_compare.sh), its
#      whole seq_len (512 steps).
# Prints each program's "achieved tok/s" and our/run.c ratio per run, then the ranges.
set -euo pipefail
RUNC=${1:?usage: tools/bench_sample.sh PATH/TO/run.c [ROUNDS] [DATA_DIR] [-- sample flags]}
shift
ROUNDS=3
if [[ $# -gt 0 && $1 != "--" ]]; then ROUNDS=$1; shift; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/../shared/data
if [[ $# -gt 0 && $1 != "--" ]]; then DATA=$1; shift; fi
if [[ $# -gt 0 && $1 == "--" ]]; then shift; fi
EXTRA=("$@")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

gcc -O3 -o "$TMP/run" "$RUNC" -lm

cat > "$TMP/prepare.ts" <<TS
import { modelConfig } from "$ROOT/src/model/config.ts";
import { tensorTable } from "$ROOT/src/model/tensors.ts";
import { initParams } from "$ROOT/src/model/init.ts";
import { encodeLlama2cV0 } from "$ROOT/src/io/llama2c.ts";
const enc = new TextEncoder();
const toks = Array.from({ length: 512 }, (_, i) =>
  enc.encode(i === 0 ? "<unk>" : i === 1 ? "\n<s>\n" : i === 2 ? "\n</s>\n" : \`<t\${i}>\`));
const bin = new Uint8Array(4 + toks.reduce((a, t) => a + 8 + t.length, 0));
const dv = new DataView(bin.buffer);
dv.setInt32(0, 8, true);
let at = 4;
toks.forEach((t, i) => {
  dv.setFloat32(at, -i, true);
  dv.setInt32(at + 4, t.length, true);
  bin.set(t, at + 8);
  at += 8 + t.length;
});
await Deno.writeFile("$TMP/tok512.bin", bin);
const cfg = modelConfig({ dim: 288, n_layers: 6, n_heads: 6, max_seq_len: 256 });
await Deno.writeFile("$TMP/m15.bin", encodeLlama2cV0(cfg, initParams(tensorTable(cfg), 1337)));
TS
deno run -A "$TMP/prepare.ts"

tps() { grep -o 'achieved tok/s: [0-9.]*' "$1" | awk '{print $3}'; }
run_pair() { # name, model, tokenizer, run.c args..., then ours after "::"
  local name=$1 model=$2 tok=$3
  shift 3
  local rargs=() oargs=()
  while [[ $1 != "::" ]]; do rargs+=("$1"); shift; done
  shift
  oargs=("$@")
  "$TMP/run" "$model" -t 0 -z "$tok" "${rargs[@]}" > /dev/null 2> "$TMP/r.err"
  deno run -A "$ROOT/main.ts" sample --model "$model" --tokenizer "$tok" --temperature 0 \
    "${oargs[@]}" ${EXTRA[@]+"${EXTRA[@]}"} > /dev/null 2> "$TMP/o.err"
  local r o
  r=$(tps "$TMP/r.err")
  o=$(tps "$TMP/o.err")
  echo "$name $r $o" >> "$TMP/results"
  awk -v n="$name" -v r="$r" -v o="$o" \
    'BEGIN { printf "%-12s run.c %9.1f tok/s   ours %9.1f tok/s   ratio %.2f\n", n, r, o, o / r }'
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  run_pair 15M "$TMP/m15.bin" "$DATA/tokenizer.bin" -n 256 -i "Once upon a time" :: \
    --steps 256 --prompt "Once upon a time"
  run_pair stories260K "$DATA/stories260K.bin" "$TMP/tok512.bin" -n 0 :: --steps 0
done
echo "summary (min / median / max):"
stat() { # column of results for name: min / median / max
  awk -v n="$1" -v c="$2" '$1 == n { print (c == 4 ? $3 / $2 : $c) }' "$TMP/results" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.2f / %.2f / %.2f", v[1], v[int((NR + 1) / 2)], v[NR] }'
}
for name in 15M stories260K; do
  echo "$name: run.c $(stat "$name" 2) tok/s; ours $(stat "$name" 3) tok/s; ratio $(stat "$name" 4)"
done
