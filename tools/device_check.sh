#!/usr/bin/env bash
# One-shot GPU check: does babyllama work on this machine's GPU, how fast, and what did the
# tuner pick? Run from a copy of the repo that holds the ignored folder .gpu/ made by
# tools/device_prepare.sh (Deno, Vulkan/EGL loaders, an EGL ICD manifest, a small data shard):
#
#   bash tools/device_check.sh           # on the GPU machine (whole run under 8 minutes)
#   bash tools/device_check.sh --cpu     # every stage on the CPU adapter, small shapes (< 3 min)
#
# Stages, each under its own timeout inside one overall budget, each writing its results to
# $OUT (or --out DIR, default out/device_check) as soon as it has them:
#   setup   unpack .gpu/deno.xz (else use deno on PATH); point LD_LIBRARY_PATH at the carried
#           loaders only where the machine lacks them; find the NVIDIA ICD manifest
#   env     env.txt: nvidia-smi -L, ICD files, EGL vendor files, libraries, environment
#   doctor  doctor.json: `main.ts doctor --json`; GPU mode requires vendor 0x10de and no
#           fallback adapter, retrying with the carried EGL ICD and then the GL backend, and
#           stops the run if none passes (exit 2)
#   tests   tests.txt: the op tests (GPU mode: also tests/gpu and the whole-model PyTorch tests)
#   bench   bench.txt: `main.ts bench` at 15M B32 and B64 x T256 (`--tune full` when bench has
#           --tune); the tuner's cache (the path doctor.json's tuning_cache names) goes to
#           tune.json (merge it into the shipped table here: tools/ship_tuning.ts OUT/tune.json)
#   train   train.txt: 60 s of `main.ts train` on the 15M model (tokens/s from its log.jsonl),
#           then `bench --profile` for the per-kernel GPU times when timestamp-query is granted
#   torch   torch.txt: tools/train_torch.py --device cuda on the same GPU when PyTorch with CUDA
#           is installed (the tokens/s ratio); --cpu: on the CPU when torch imports
# summary.json (rewritten after every stage) holds each stage's status and seconds and the
# headline figures; the same summary ends stdout. At most 8 files land in $OUT.
# Exit 0: every stage passed; 1: some stage failed or timed out; 2: no usable adapter.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
MODE=gpu
OUTDIR=${OUT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) MODE=cpu ;;
    --out) OUTDIR=${2:?--out needs a directory}; shift ;;
    --out=*) OUTDIR=${1#--out=} ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown flag $1 (usage: bash tools/device_check.sh [--cpu] [--out DIR])" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$OUTDIR" ] || OUTDIR=$ROOT/out/device_check
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd) || exit 2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/babyllama_check.XXXXXX") || exit 2
T0=$(date +%s)
if [ "$MODE" = gpu ]; then BUDGET=${BABYLLAMA_CHECK_BUDGET:-465}; else BUDGET=${BABYLLAMA_CHECK_BUDGET:-170}; fi
GPU=$ROOT/.gpu
FIG=$WORK/figures.tsv
: >"$FIG"
STAGES=()
EXIT=0

# ---------------------------------------------------------------------------------------- helpers
now() { echo $(($(date +%s) - T0)); }
# Seconds a command may run: its own limit, cut to what is left of the budget (3 s kept back).
left() {
  local rest=$((BUDGET - $(now) - 3))
  [ "$rest" -ge 1 ] || rest=1
  [ "$1" -lt "$rest" ] && echo "$1" || echo "$rest"
}
fig() { printf '%s\t%s\n' "$1" "$2" >>"$FIG"; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\n\t' '  ')"; }
write_summary() {
  {
    printf '{\n  "mode": "%s",\n  "budget_s": %s,\n  "elapsed_s": %s,\n  "out": %s,\n  "stages": [' \
      "$MODE" "$BUDGET" "$(now)" "$(json_str "$OUTDIR")"
    local i sep=""
    for i in "${STAGES[@]}"; do
      IFS='|' read -r name status secs note <<<"$i"
      printf '%s\n    {"name": "%s", "status": "%s", "seconds": %s, "note": %s}' "$sep" "$name" \
        "$status" "$secs" "$(json_str "$note")"
      sep=","
    done
    printf '\n  ],\n  "figures": {'
    sep=""
    while IFS=$'\t' read -r k v; do
      if [[ "$v" =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        printf '%s\n    "%s": %s' "$sep" "$k" "$v"
      else
        printf '%s\n    "%s": %s' "$sep" "$k" "$(json_str "$v")"
      fi
      sep=","
    done <"$FIG"
    printf '\n  }\n}\n'
  } >"$OUTDIR/summary.json.tmp" && mv "$OUTDIR/summary.json.tmp" "$OUTDIR/summary.json"
}
# record NAME STATUS START NOTE
record() {
  STAGES+=("$1|$2|$(($(now) - $3))|$4")
  [ "$2" = ok ] || [ "$2" = skipped ] || EXIT=1
  printf '[%4ss] %-7s %-8s %s\n' "$(now)" "$1" "$2" "$4"
  write_summary
}
# status_of RC: ok, timeout or failed(rc)
status_of() {
  case "$1" in
    0) echo ok ;;
    124 | 137) echo timeout ;;
    *) echo "failed($1)" ;;
  esac
}
has_lib() {
  ldconfig -p 2>/dev/null | grep -q "[[:space:]]$1 (" && return 0
  local d
  for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /usr/local/nvidia/lib64; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}
find_lib() {
  local p
  p=$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n && /x86-64/ { print $NF; exit }')
  [ -n "$p" ] && { echo "$p"; return; }
  for d in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64; do
    [ -e "$d/$1" ] && { echo "$d/$1"; return; }
  done
}
# js CODE ARGS...: runs a small Deno script (reads args from Deno.args).
js() {
  local code=$1
  shift
  printf '%s\n' "$code" >"$WORK/snippet.ts"
  "$DENO" run -A --no-check "$WORK/snippet.ts" "$@" 2>/dev/null
}
MEDIAN_TPS='const recs = Deno.readTextFileSync(Deno.args[0]).split("\n").filter((l) => l.trim())
  .map((l) => JSON.parse(l)).filter((r) => r.type === "train");
const tps = recs.slice(Math.min(2, recs.length - 1)).map((r) => r.tokens_per_s).filter((x) => x > 0).sort((a, b) => a - b);
if (tps.length) console.log(Math.round(tps[tps.length >> 1]), recs.length, recs[recs.length - 1].iter, recs[recs.length - 1].loss.toFixed(4));'

# ------------------------------------------------------------------------------------------ setup
t=$(now)
export XDG_RUNTIME_DIR=/tmp NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
mkdir -p "$WORK/bin"
note=""
if [ -s "$GPU/deno.xz" ]; then
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$GPU/deno.xz" >"$WORK/bin/deno"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$GPU/deno.xz" "$WORK/bin/deno"
  fi
  chmod +x "$WORK/bin/deno"
  DENO=$WORK/bin/deno
  note="deno from .gpu/deno.xz"
elif command -v deno >/dev/null 2>&1; then
  DENO=$(command -v deno)
  note="deno from PATH"
else
  record setup "failed(1)" "$t" "no .gpu/deno.xz and no deno on PATH: run tools/device_prepare.sh first"
  exit 2
fi
if ! "$DENO" --version >/dev/null 2>&1; then
  record setup "failed(1)" "$t" "$DENO does not run"
  exit 2
fi
fig deno "$("$DENO" --version | head -1)"
if [ "$MODE" = gpu ]; then export DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-vulkan}; fi
LIBS=""
if ! has_lib libvulkan.so.1 && [ -e "$GPU/lib/vulkan/libvulkan.so.1" ]; then LIBS=$GPU/lib/vulkan; fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && LIBS=${LIBS:+$LIBS:}$d; done
[ -n "$LIBS" ] && export LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# An EGL-backed NVIDIA ICD manifest: with the library's absolute path when it can be found.
EGL_ICD=$GPU/nvidia_icd_egl.json
egl_lib=$(find_lib libEGL_nvidia.so.0)
if [ -n "$egl_lib" ]; then
  EGL_ICD=$WORK/nvidia_icd_egl.json
  printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3"}}\n' "$egl_lib" >"$EGL_ICD"
fi
if [ "$MODE" = gpu ] && [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  std_icd=$(ls /etc/vulkan/icd.d/nvidia*.json /usr/share/vulkan/icd.d/nvidia*.json \
    /usr/local/share/vulkan/icd.d/nvidia*.json 2>/dev/null | head -1)
  alt_icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia*.json 2>/dev/null | head -1)
  # The driver's own manifest where the loader does not look (the EGL one is the doctor retry).
  if [ -z "$std_icd" ] && [ -n "$alt_icd" ]; then export VK_DRIVER_FILES=$alt_icd VK_ICD_FILENAMES=$alt_icd; fi
fi
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -e /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] &&
  ! ls /usr/share/glvnd/egl_vendor.d/*nvidia*.json >/dev/null 2>&1; then
  EGL_VENDOR=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
else
  EGL_VENDOR=${__EGL_VENDOR_LIBRARY_FILENAMES:-}
fi
# Data for training: the carried shard, else the shared sample, else random tokens.
DATA=$GPU/data
if [ ! -d "$DATA/TinyStories_all_data" ]; then
  DATA=$WORK/data
  mkdir -p "$DATA/TinyStories_all_data"
  sample=${BABYLLAMA_DATA_DIR:-$ROOT/../shared/data}/tinystories_valid_sample.llama2.bin
  if [ -s "$sample" ]; then
    bytes=$(stat -c %s "$sample")
    val=$(((bytes / 5) & ~1))
    head -c "$val" "$sample" >"$DATA/TinyStories_all_data/data00.bin"
    tail -c +"$((val + 1))" "$sample" >"$DATA/TinyStories_all_data/data01.bin"
  else
    js 'const t = new Uint16Array(40000); let s = 7; for (let i = 0; i < t.length; i++) { s = (s * 1103515245 + 12345) >>> 0; t[i] = s % 32000; }
for (const n of ["data00.bin", "data01.bin"]) Deno.writeFileSync(Deno.args[0] + "/" + n, new Uint8Array(t.buffer));' \
      "$DATA/TinyStories_all_data"
    note="$note; random tokens (no data shard found)"
  fi
fi
export BABYLLAMA_DATA_DIR=$DATA
record setup ok "$t" "$note; LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}; VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"

# -------------------------------------------------------------------------------------------- env
t=$(now)
{
  echo "== date: $(date -u +%FT%TZ); mode $MODE; budget $BUDGET s; $(uname -a)"
  echo "== nvidia-smi -L"
  timeout 20 nvidia-smi -L 2>&1
  timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  echo "== /dev/nvidia*"
  ls -la /dev/nvidia* 2>&1
  for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d \
    /usr/local/nvidia/share/vulkan/icd.d /usr/share/glvnd/egl_vendor.d /usr/local/nvidia/share/glvnd/egl_vendor.d; do
    echo "== $d"
    for f in "$d"/*.json; do [ -e "$f" ] && echo "$f: $(tr -d '\n ' <"$f")"; done
  done
  echo "== libraries (ldconfig -p)"
  ldconfig -p 2>/dev/null | grep -Ei 'vulkan|nvidia|libEGL|GLdispatch|libcuda' | head -40
  echo "== environment"
  env | grep -E '^(NVIDIA_|VK_|DENO_|LD_LIBRARY_PATH|__EGL|XDG_|CUDA)' | sort
  echo "== deno: $DENO"
  "$DENO" --version
  echo "== python"
  for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null && echo "$py: $(timeout 60 "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -1)"
  done
} >"$OUTDIR/env.txt" 2>&1
record env ok "$t" "env.txt"

# ----------------------------------------------------------------------------------------- doctor
t=$(now)
CHECK='const r = JSON.parse(Deno.readTextFileSync(Deno.args[0]));
const a = r.adapter;
const gpu = Deno.args[1] === "gpu";
const pass = a !== null && (!gpu || (a.vendor === "4318" && !a.is_fallback_adapter));
console.log(`${pass ? "pass" : "fail"}\t${a ? `${a.description} (vendor ${a.vendor_hex}, fallback ${a.is_fallback_adapter})` : r.error}`);'
doctor_try() { # LABEL: runs doctor in the current environment; 0 when the adapter passes
  local j=$WORK/doctor_$1.json verdict
  echo "== doctor attempt '$1' (DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-} VK_DRIVER_FILES=${VK_DRIVER_FILES:-} __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-})" >>"$OUTDIR/env.txt"
  rm -f "$j"
  timeout -k 5 "$(left 90)" "$DENO" run -A main.ts doctor --json "$j" >>"$OUTDIR/env.txt" 2>&1
  [ -s "$j" ] || { echo "no report" >>"$OUTDIR/env.txt"; return 1; }
  cp "$j" "$OUTDIR/doctor.json"
  verdict=$(js "$CHECK" "$j" "$MODE")
  echo "verdict: $verdict" >>"$OUTDIR/env.txt"
  fig "adapter_$1" "${verdict#*$'\t'}"
  [ "${verdict%%$'\t'*}" = pass ]
}
if doctor_try default; then
  ATTEMPT=default
elif [ "$MODE" = gpu ] && export VK_DRIVER_FILES=$EGL_ICD VK_ICD_FILENAMES=$EGL_ICD && doctor_try egl_icd; then
  ATTEMPT=egl_icd
elif [ "$MODE" = gpu ] && {
  export DENO_WEBGPU_BACKEND=gl
  [ -n "$EGL_VENDOR" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$EGL_VENDOR
  has_lib libEGL.so.1 || export LD_LIBRARY_PATH=$GPU/lib/egl:${LD_LIBRARY_PATH:-}
  doctor_try gl
}; then
  ATTEMPT=gl
else
  record doctor "failed(2)" "$t" "no usable adapter (GPU mode needs vendor 0x10de, not a fallback): see env.txt, doctor.json"
  exit 2
fi
export BABYLLAMA_REQUIRE_GPU=$([ "$MODE" = gpu ] && echo 1 || echo 0)
TIMESTAMPS=$(js 'const r = JSON.parse(Deno.readTextFileSync(Deno.args[0])); console.log(r.features.granted.includes("timestamp-query") ? 1 : 0);' "$OUTDIR/doctor.json")
fig timestamp_query "${TIMESTAMPS:-0}"
record doctor ok "$t" "attempt $ATTEMPT: $(grep -m1 'verdict: pass' "$OUTDIR/env.txt" | cut -f2)"

# ------------------------------------------------------------------------------------------ tests
t=$(now)
if [ "$MODE" = gpu ]; then
  TESTS=(tests/ops/ tests/gpu/ tests/model/model_test.ts tests/model/chunking_test.ts)
else
  TESTS=(tests/ops/ tests/gpu/)
fi
timeout -k 10 "$(left 150)" "$DENO" test -A --no-check --parallel "${TESTS[@]}" >"$OUTDIR/tests.txt" 2>&1
rc=$?
counts=$(grep -aE '^(ok|FAILED) \| [0-9]+ passed' "$OUTDIR/tests.txt" | tail -1)
fig tests "${counts:-no result line}"
record tests "$(status_of $rc)" "$t" "${TESTS[*]}: ${counts:-no result line}"

# ------------------------------------------------------------------------------------------ bench
t=$(now)
TUNE=()
if "$DENO" run -A main.ts bench --help 2>/dev/null | grep -q -- '--tune'; then TUNE=(--tune full); fi
if [ "$MODE" = gpu ]; then
  SHAPE=()
  BATCHES=(32 64)
  SEQ=256
else
  SHAPE=(--dim 64 --n-layers 2 --n-heads 4 --n-kv-heads 4)
  BATCHES=(4 8)
  SEQ=64
fi
brc=0
: >"$OUTDIR/bench.txt"
for B in "${BATCHES[@]}"; do
  echo "== bench ${SHAPE[*]} --batch-size $B --seq-len $SEQ ${TUNE[*]}" >>"$OUTDIR/bench.txt"
  timeout -k 10 "$(left 150)" "$DENO" run -A main.ts bench "${SHAPE[@]}" --batch-size "$B" --seq-len "$SEQ" \
    --iters 3 "${TUNE[@]}" >"$WORK/bench_$B.out" 2>"$WORK/bench_$B.err"
  rc=$?
  cat "$WORK/bench_$B.out" "$WORK/bench_$B.err" >>"$OUTDIR/bench.txt"
  [ $rc = 0 ] || brc=$rc
  tps=$(js 'const l = Deno.readTextFileSync(Deno.args[0]).trim().split("\n").filter((x) => x.startsWith("{")).pop(); if (l) console.log(JSON.parse(l).tokens_per_s);' "$WORK/bench_$B.out")
  fig "bench_B${B}xT${SEQ}_tokens_per_s" "${tps:-none}"
done
# The tuner's cache, where doctor (same environment) says the tuner keeps it; else the same rule
# in shell: $BABYLLAMA_TUNE_CACHE, an absolute $XDG_CACHE_HOME, ~/.cache (babyllama/tune.json).
TUNE_CACHE=$(js 'const t = JSON.parse(Deno.readTextFileSync(Deno.args[0])).tuning_cache; if (t?.path) console.log(t.path);' "$OUTDIR/doctor.json")
if [ -z "$TUNE_CACHE" ]; then
  case "${XDG_CACHE_HOME:-}" in /*) xdg=$XDG_CACHE_HOME ;; *) xdg=${HOME:-.}/.cache ;; esac
  TUNE_CACHE=${BABYLLAMA_TUNE_CACHE:-$xdg/babyllama/tune.json}
fi
tune_note="no tuning cache at $TUNE_CACHE"
if [ -s "$TUNE_CACHE" ]; then
  cp "$TUNE_CACHE" "$OUTDIR/tune.json" && tune_note="tuning cache $TUNE_CACHE -> tune.json"
fi
fig tune_cache "$TUNE_CACHE"
record bench "$(status_of $brc)" "$t" "B ${BATCHES[*]} x T$SEQ${TUNE:+ --tune full}; $tune_note"

# ------------------------------------------------------------------------------------------ train
t=$(now)
if [ "$MODE" = gpu ]; then
  TRAIN=(--batch-size 32 --max-seq-len 256)
  SECS=60
  LOGI=10
else
  TRAIN=(--batch-size 4 --max-seq-len 64 --dim 64 --n-layers 2 --n-heads 4 --n-kv-heads 4)
  SECS=15
  LOGI=2
fi
rm -rf "$WORK/train"
echo "== train ${TRAIN[*]} for $SECS s (SIGINT then)" >"$OUTDIR/train.txt"
lim=$(left $((SECS + 60)))
run_s=$((SECS < lim - 30 ? SECS : lim - 30))
if [ "$run_s" -lt 5 ]; then
  record train skipped "$t" "out of time"
else
  timeout -s INT -k 30 "$run_s" "$DENO" run -A main.ts train "${TRAIN[@]}" --gradient-accumulation-steps 1 \
    --max-iters 1000000 --eval-interval 1000000 --eval-iters 2 --log-interval "$LOGI" --warmup-iters 100 \
    --data-dir "$DATA" --out-dir "$WORK/train" --device-verbose >>"$OUTDIR/train.txt" 2>&1
  rc=$?
  [ $rc = 130 ] || [ $rc = 124 ] && rc=0 # stopped by the time limit: the expected end
  res=$([ -s "$WORK/train/log.jsonl" ] && js "$MEDIAN_TPS" "$WORK/train/log.jsonl")
  read -r train_tps train_logs train_iter train_loss <<<"${res:-}"
  fig train_tokens_per_s "${train_tps:-none}"
  fig train_last_iter "${train_iter:-none}"
  fig train_last_loss "${train_loss:-none}"
  [ -n "${train_tps:-}" ] || rc=1
  note="${train_tps:-no} tokens/s (median of log lines after the first 2), iter ${train_iter:-?}, loss ${train_loss:-?}"
  if [ "${TIMESTAMPS:-0}" = 1 ]; then
    SH=()
    [ "$MODE" = gpu ] || SH=("${SHAPE[@]}")
    echo "== per-kernel GPU time of one forward+backward (bench --profile ${SH[*]} ${TRAIN[1]} x ${TRAIN[3]})" >>"$OUTDIR/train.txt"
    timeout -k 10 "$(left 90)" "$DENO" run -A main.ts bench "${SH[@]}" --batch-size "${TRAIN[1]}" --seq-len "${TRAIN[3]}" \
      --iters 1 --profile >>"$OUTDIR/train.txt" 2>&1
    prc=$?
    [ $prc = 0 ] || rc=$prc
    note="$note; profile $(status_of $prc)"
  else
    note="$note; no timestamp-query: no per-kernel profile"
  fi
  record train "$(status_of $rc)" "$t" "$note"
fi

# ------------------------------------------------------------------------------------------ torch
t=$(now)
PY=""
for py in python3 /usr/bin/python3; do
  command -v "$py" >/dev/null 2>&1 || continue
  ans=$(timeout 60 "$py" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null | tail -1)
  if [ "$MODE" = gpu ] && [ "$ans" = 1 ]; then PY=$py && break; fi
  if [ "$MODE" = cpu ] && [ -n "$ans" ]; then PY=$py && break; fi
done
if [ -z "$PY" ]; then
  record torch skipped "$t" "no PyTorch$([ "$MODE" = gpu ] && echo " with CUDA")"
else
  lim=$(left 100)
  TSECS=$([ "$MODE" = gpu ] && echo 45 || echo 10)
  TSECS=$((TSECS < lim - 40 ? TSECS : lim - 40))
  if [ "$TSECS" -lt 5 ]; then
    record torch skipped "$t" "out of time"
  else
    DEV=$([ "$MODE" = gpu ] && echo cuda || echo cpu)
    ob=/usr/lib/x86_64-linux-gnu/openblas-pthread
    echo "== $PY tools/train_torch.py --device $DEV ${TRAIN[*]} (stops after $TSECS s)" >"$OUTDIR/torch.txt"
    LD_LIBRARY_PATH=$([ "$DEV" = cpu ] && [ -d $ob ] && echo "$ob:")${LD_LIBRARY_PATH:-} OMP_WAIT_POLICY=PASSIVE \
      PYTHONUNBUFFERED=1 timeout -k 10 "$lim" "$PY" tools/train_torch.py --device "$DEV" "${TRAIN[@]}" \
      --gradient-accumulation-steps 1 --max-iters 1000000 --eval-interval 1000000 --eval-iters 2 \
      --log-interval "$LOGI" --warmup-iters 100 --data-dir "$DATA" --out-dir "$WORK/torch" \
      --time-limit "$TSECS" >>"$OUTDIR/torch.txt" 2>&1
    rc=$?
    res=$([ -s "$WORK/torch/log.jsonl" ] && js "$MEDIAN_TPS" "$WORK/torch/log.jsonl")
    read -r torch_tps _ torch_iter torch_loss <<<"${res:-}"
    fig torch_tokens_per_s "${torch_tps:-none}"
    [ -n "${torch_tps:-}" ] || rc=1
    ratio=none
    if [ -n "${torch_tps:-}" ] && [ -n "${train_tps:-}" ]; then
      ratio=$(awk -v a="$train_tps" -v b="$torch_tps" 'BEGIN { printf "%.3f", a / b }')
    fi
    fig babyllama_over_torch "$ratio"
    record torch "$(status_of $rc)" "$t" "${torch_tps:-no} tokens/s on $DEV, iter ${torch_iter:-?}, loss ${torch_loss:-?}; babyllama/torch $ratio"
  fi
fi

echo "== summary ($OUTDIR/summary.json)"
cat "$OUTDIR/summary.json"
rm -rf "$WORK"
exit $EXIT
