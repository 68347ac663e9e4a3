#!/usr/bin/env bash
# Host tests for the firmware core (firmware/lib/kiosk_core): g++ + Debian's
# libmbedtls-dev, libqrcodegen-dev, zlib1g-dev and zbar-tools, no ESP32 toolchain. Called by scripts/test (and so .ci/run).
# Exit status is non-zero on any build or test failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fw="$(dirname "$here")"
repo="$(dirname "$fw")"

if [ ! -f /usr/include/mbedtls/md.h ] || ! command -v g++ >/dev/null || [ ! -f /usr/include/qrcodegen/qrcodegen.h ] \
   || [ ! -f /usr/include/zlib.h ] || ! command -v zbarimg >/dev/null; then
  echo "firmware host test: installing g++/libmbedtls-dev/libqrcodegen-dev/zlib1g-dev/zbar-tools via scripts/system-deps"
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

flags=(-std=c++17 -O0 -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion)
# Sanitizers catch memory and UB bugs the chip would hide; use them when the toolchain has them.
probe="$(mktemp "${TMPDIR:-/tmp}/kiosk-fw-probe.XXXXXX")"
if echo 'int main(){}' | g++ -x c++ -fsanitize=address,undefined -o "$probe" - 2>/dev/null; then
  flags+=(-fsanitize=address,undefined -fno-sanitize-recover=all)
fi
rm -f "$probe"

build="$(mktemp -d "${TMPDIR:-/tmp}/kiosk-fw-test.XXXXXX")"
trap 'rm -rf "$build"' EXIT

# Cross-check: random cases signed by the server's own signer (kiosk/devices/signing.py).
signer="$repo/kiosk/devices/signing.py"
if [ ! -f "$signer" ]; then
  echo "firmware host test: FAIL: reference signer $signer not found" >&2
  exit 1
fi
python3 "$here/cross_vectors.py" "$signer" 300 >"$build/cross_vectors.json"

# The binary is cached under a hash of every input (sources, this script,
# compiler version, flags): an unchanged tree re-runs the tests without
# rebuilding. KIOSK_FW_NO_CACHE=1 forces a build.
key="$( (cat "$0"; g++ --version; echo "${flags[*]}";
         find "$fw/lib" "$fw/src" "$here" -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.py' \) -print0 | sort -z | xargs -0 cat) \
       | sha256sum | cut -c1-32)"
cache="${TMPDIR:-/tmp}/kiosk-fw-test-cache"
# The screen tests write a PNG of every screen; KIOSK_FW_UPDATE_SCREENS=1
# copies them to docs/screens (committed, shown in the README).
publish_screens() {
  if [ -n "${KIOSK_FW_UPDATE_SCREENS:-}" ]; then
    mkdir -p "$fw/docs/screens" && cp "$build"/screens/*.png "$fw/docs/screens/"
    echo "firmware host test: screens copied to $fw/docs/screens"
  fi
}
cached="$cache/$key/kiosk_host_tests"
if [ -z "${KIOSK_FW_NO_CACHE:-}" ] && [ -x "$cached" ]; then
  echo "firmware host test: sources unchanged, cached build $key; vectors: $vectors"
  mkdir -p "$build/screens"
  "$cached" "$vectors" "$build/cross_vectors.json" "$build/screens"
  publish_screens
  if [ -n "${KIOSK_FW_E2E:-}" ]; then bash "$here/e2e.sh"; fi
  exit 0
fi

start=$(date +%s)
inc=(-I"$fw/lib/kiosk_core/src" -I"$here")
# Two parallel jobs (the machine may have 2 cores): the core, file by file as
# PlatformIO compiles it (so a missing include shows up here), and the tests
# as one translation unit (cheaper than parsing the STL headers 7 times).
(
  for src in "$fw"/lib/kiosk_core/src/kiosk/*.cpp; do
    g++ "${flags[@]}" "${inc[@]}" -c "$src" -o "$build/core_$(basename "$src" .cpp).o"
  done
) &
core_job=$!
for src in "$here"/*.cpp; do echo "#include \"$src\""; done >"$build/all_tests.cpp"
g++ "${flags[@]}" "${inc[@]}" -c "$build/all_tests.cpp" -o "$build/all_tests.o" &
tests_job=$!
# The board glue against declaration stubs of the SDK calls it uses (test/glue_stubs):
# catches drift between the core's ports and src/main.cpp. Not a real ESP32 build.
# The board's QR path (ESP-IDF's qrcode component) against its declaration stub, likewise.
( g++ -std=gnu++17 -fsyntax-only -Wall -Wextra -Werror -I"$here/glue_stubs" "${inc[@]}" "$fw/src/main.cpp" &&
  g++ -std=gnu++17 -fsyntax-only -Wall -Wextra -Werror -Wconversion -DKIOSK_QR_ESP_IDF -I"$here/glue_stubs" "${inc[@]}" \
      "$fw/lib/kiosk_core/src/kiosk/qr.cpp" ) &
glue_job=$!
status=0
wait "$glue_job" || { echo "firmware host test: FAIL: src/main.cpp does not match the core's ports" >&2; status=1; }
wait "$core_job" || status=1
wait "$tests_job" || status=1
if [ "$status" -ne 0 ]; then echo "firmware host test: FAIL: build" >&2; exit 1; fi
g++ "${flags[@]}" "$build"/core_*.o "$build/all_tests.o" -lmbedcrypto -lqrcodegen -lz -o "$build/kiosk_host_tests"
echo "firmware host test: built in $(( $(date +%s) - start )) s; vectors: $vectors"
mkdir -p "$build/screens"
"$build/kiosk_host_tests" "$vectors" "$build/cross_vectors.json" "$build/screens"
publish_screens
# Cache only a binary whose tests passed (set -e stops before this otherwise).
mkdir -p "$cache/$key" && cp "$build/kiosk_host_tests" "$cache/$key/.tmp.$$" && mv "$cache/$key/.tmp.$$" "$cached" || true
# Opt-in: the same core against the real server (starts a local Flask app).
if [ -n "${KIOSK_FW_E2E:-}" ]; then bash "$here/e2e.sh"; fi
