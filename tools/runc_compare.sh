#!/usr/bin/env bash
# Compares `babyllama sample --temperature 0` with llama2.c's run.c (greedy, `-t 0`).
#
# usage: tools/runc_compare.sh PATH/TO/run.c [DATA_DIR]
#   run.c    llama2.c's run.c (not part of this repository: fetch it yourself); it is compiled
#            with `gcc -O3 -lm` into a temporary directory
#   DATA_DIR holds stories260K.bin and tokenizer.bin (default: ../shared/data beside the repo)
#
# 1. stories260K.bin (vocab 512, GQA) greedy from BOS for its whole seq_len: both programs print
#    through an id tokenizer (512 pieces `<tN>`, 1 = BOS, 2 = EOS, written here in llama2.c's
#    tokenizer.bin format), so the printed text is the token ids; they must be identical.
# 2. A random model with vocab 32000 (dim 64, 2 layers, 4 heads, 2 KV heads, seq 128, initParams
#    seed 1337, written as a legacy v0 .bin) with tokenizer.bin and a prompt, 64 steps: the
#    printed texts are compared.
# Prints the first difference, if any; exits non-zero when a comparison differs.
set -euo pipefail
RUNC=${1:?usage: tools/runc_compare.sh PATH/TO/run.c [DATA_DIR]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${2:-$ROOT/../shared/data}
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
const cfg = modelConfig({ dim: 64, n_layers: 2, n_heads: 4, n_kv_heads: 2, max_seq_len: 128 });
await Deno.writeFile("$TMP/random32k.bin", encodeLlama2cV0(cfg, initParams(tensorTable(cfg), 1337)));
TS
deno run -A "$TMP/prepare.ts"

status=0
compare() { # name, run.c output, ours
  if cmp -s "$2" "$3"; then
    echo "$1: identical ($(wc -c < "$2") bytes)"
  else
    echo "$1: DIFFERENT"
    cmp "$2" "$3" || true
    echo "  run.c: $(head -c 300 "$2")"
    echo "  ours:  $(head -c 300 "$3")"
    status=1
  fi
}

"$TMP/run" "$DATA/stories260K.bin" -t 0 -n 0 -z "$TMP/tok512.bin" > "$TMP/runc_260k.txt" 2> "$TMP/runc_260k.err"
deno run -A "$ROOT/main.ts" sample --model "$DATA/stories260K.bin" --tokenizer "$TMP/tok512.bin" \
  --temperature 0 --steps 0 > "$TMP/ours_260k.txt" 2> "$TMP/ours_260k.err"
compare "stories260K greedy, $(grep -o '<t' "$TMP/runc_260k.txt" | wc -l) tokens" \
  "$TMP/runc_260k.txt" "$TMP/ours_260k.txt"
echo "  run.c $(cat "$TMP/runc_260k.err") | ours $(cat "$TMP/ours_260k.err")"

PROMPT="Once upon a time, there was a little girl named Lily"
"$TMP/run" "$TMP/random32k.bin" -t 0 -n 64 -i "$PROMPT" -z "$DATA/tokenizer.bin" \
  > "$TMP/runc_32k.txt" 2> "$TMP/runc_32k.err"
deno run -A "$ROOT/main.ts" sample --model "$TMP/random32k.bin" --tokenizer "$DATA/tokenizer.bin" \
  --prompt "$PROMPT" --temperature 0 --steps 64 > "$TMP/ours_32k.txt" 2> "$TMP/ours_32k.err"
compare "random vocab-32000 model greedy, prompt + 64 steps" "$TMP/runc_32k.txt" "$TMP/ours_32k.txt"
echo "  run.c $(cat "$TMP/runc_32k.err") | ours $(cat "$TMP/ours_32k.err")"
exit $status
