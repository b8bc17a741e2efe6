#!/usr/bin/env bash
# Prepares the ignored folder .gpu/ that tools/device_check.sh needs on an offline GPU machine
# (no network, no Deno; files reach it only as part of this repo's tree, 64 MiB at most):
#
#   .gpu/deno.xz               this machine's Deno binary, xz-compressed (~31 MB of 96)
#   .gpu/deno.version          its `deno --version`
#   .gpu/lib/vulkan/           Debian's Vulkan loader libvulkan.so.1 (used only when the GPU
#                              machine has none)
#   .gpu/lib/egl/              Debian's glvnd libEGL.so.1 + libGLdispatch.so.0 (for the GL
#                              backend fallback, used only when missing there)
#   .gpu/nvidia_icd_egl.json   a Vulkan ICD manifest for NVIDIA's EGL driver library, used only
#                              when the GPU machine has no NVIDIA ICD manifest of its own
#   .gpu/data/                 tokenizer.model and a small pretokenized shard split into
#                              TinyStories_all_data/data00.bin (val) and data01.bin (train)
#
# Run here, from anywhere: bash tools/device_prepare.sh. Needs deno, xz, apt-get (Debian/Ubuntu;
# without apt-get the system's own libraries are copied). The data comes from
# $BABYLLAMA_DATA_DIR, else ../shared/data. Idempotent: redoes only what is missing or stale.
# Then, with the device tool: run `bash tools/device_check.sh` with carry [".gpu"].
set -euo pipefail
cd "$(dirname "$0")/.."
G=.gpu
mkdir -p "$G/lib/vulkan" "$G/lib/egl" "$G/data/TinyStories_all_data"

# 1. Deno, compressed (xz -6: 31 MB; gzip -9 would be 41 MB).
deno_bin=$(readlink -f "$(command -v deno)")
if [ ! -s "$G/deno.xz" ] || [ "$deno_bin" -nt "$G/deno.xz" ]; then
  echo "compressing $deno_bin -> $G/deno.xz"
  xz -T2 -6 -c "$deno_bin" >"$G/deno.xz.tmp"
  mv "$G/deno.xz.tmp" "$G/deno.xz"
fi
"$deno_bin" --version >"$G/deno.version"

# 2. The Vulkan loader and the glvnd EGL loader from Debian's packages (x86-64, as the GPU machine).
need_libs=0
for f in "$G/lib/vulkan/libvulkan.so.1" "$G/lib/egl/libEGL.so.1" "$G/lib/egl/libGLdispatch.so.0"; do
  [ -s "$f" ] || need_libs=1
done
if [ "$need_libs" = 1 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  got=0
  if command -v apt-get >/dev/null 2>&1; then
    apt_opts=()
    if [ "$(dpkg --print-architecture 2>/dev/null)" != amd64 ]; then
      mkdir -p "$tmp/lists/partial"
      apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$tmp/lists")
      apt-get "${apt_opts[@]}" update -qq
    fi
    if (cd "$tmp" && apt-get "${apt_opts[@]}" download -qq libvulkan1 libegl1 libglvnd0 2>/dev/null); then
      for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
      got=1
    fi
  fi
  copy_lib() { # name destdir
    local src
    src=$(find "$tmp/root" -name "$1" 2>/dev/null | head -1)
    if [ -z "$src" ] || [ "$got" = 0 ]; then
      src=$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n && $0 ~ /x86-64/ { print $NF; exit }')
    fi
    [ -n "$src" ] || { echo "error: Cannot find $1 (apt-get download failed and the system has none)" >&2; exit 1; }
    cp -L "$src" "$2/$1"
  }
  copy_lib libvulkan.so.1 "$G/lib/vulkan"
  copy_lib libEGL.so.1 "$G/lib/egl"
  copy_lib libGLdispatch.so.0 "$G/lib/egl"
fi

# 3. The EGL-backed NVIDIA ICD manifest (the GLX one fails without a display).
printf '%s\n' '{"file_format_version":"1.0.0","ICD":{"library_path":"libEGL_nvidia.so.0","api_version":"1.3"}}' \
  >"$G/nvidia_icd_egl.json"

# 4. Data: the tokenizer and the sample shard, first 20% (even byte count) as val.
src=${BABYLLAMA_DATA_DIR:-../shared/data}
shard=$src/tinystories_valid_sample.llama2.bin
[ -s "$shard" ] || { echo "error: Cannot find $shard (set BABYLLAMA_DATA_DIR)" >&2; exit 1; }
cp "$src/tokenizer.model" "$G/data/tokenizer.model"
bytes=$(stat -c %s "$shard")
val=$(((bytes / 5) & ~1))
head -c "$val" "$shard" >"$G/data/TinyStories_all_data/data00.bin"
tail -c +"$((val + 1))" "$shard" >"$G/data/TinyStories_all_data/data01.bin"

# What travels: the tracked tree plus .gpu must stay under the device tool's 64 MiB.
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -sb "$G" | cut -f1)
total=$((tracked + carried))
awk -v c="$carried" -v t="$tracked" -v s="$total" -v g="$G" 'BEGIN {
  printf "prepared %s: %.1f MiB (+ %.1f MiB tracked = %.1f MiB of the 64 MiB limit)\n", g, c / 1048576, t / 1048576, s / 1048576 }'
if [ "$total" -gt $((64 * 1048576)) ]; then
  echo "error: Cannot carry $G: the tree would be over 64 MiB" >&2
  exit 1
fi
