#!/usr/bin/env bash
# Host tests for the firmware core (firmware/lib/kiosk_core): g++ + Debian's
# libmbedtls-dev, no ESP32 toolchain. Called by scripts/test (and so .ci/run).
# Exit status is non-zero on any build or test failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fw="$(dirname "$here")"
repo="$(dirname "$fw")"

if [ ! -f /usr/include/mbedtls/md.h ] || ! command -v g++ >/dev/null; then
  echo "firmware host test: installing g++/libmbedtls-dev via scripts/system-deps"
  "$repo/scripts/system-deps"
fi

# The shared vectors are the source of truth: read at run time, never copied.
vectors="${KIOSK_SIGNING_VECTORS:-}"
if [ -z "$vectors" ]; then
  for candidate in "$repo/../shared/test-vectors/device-signing.json" "$repo/shared/test-vectors/device-signing.json"; do
    if [ -f "$candidate" ]; then vectors="$candidate"; break; fi
  done
fi
if [ -z "$vectors" ] || [ ! -f "$vectors" ]; then
  echo "firmware host test: FAIL: device-signing.json not found (set KIOSK_SIGNING_VECTORS)" >&2
  exit 1
fi

build="$(mktemp -d "${TMPDIR:-/tmp}/kiosk-fw-test.XXXXXX")"
trap 'rm -rf "$build"' EXIT

flags=(-std=c++17 -O0 -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion)
# Sanitizers catch memory and UB bugs the chip would hide; use them when the toolchain has them.
if echo 'int main(){}' | g++ -x c++ -fsanitize=address,undefined -o "$build/probe" - 2>/dev/null; then
  flags+=(-fsanitize=address,undefined -fno-sanitize-recover=all)
fi

start=$(date +%s)
sources=("$fw"/lib/kiosk_core/src/kiosk/*.cpp "$here"/*.cpp)
objects=()
pids=()
for src in "${sources[@]}"; do
  obj="$build/$(basename "$src" .cpp).o"
  objects+=("$obj")
  g++ "${flags[@]}" -I"$fw/lib/kiosk_core/src" -I"$here" -c "$src" -o "$obj" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
g++ "${flags[@]}" "${objects[@]}" -lmbedcrypto -o "$build/kiosk_host_tests"
echo "firmware host test: built in $(( $(date +%s) - start )) s; vectors: $vectors"
"$build/kiosk_host_tests" "$vectors"
