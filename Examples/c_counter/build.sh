#!/bin/sh
# Builds counter.wasm with the Swift toolchain's clang and wasm-ld (or any wasm32 clang).
# Same result as `thalo build Examples/c_counter`.
set -e
cd "$(dirname "$0")"
BIN="${TOOLCHAIN_BIN:-$(dirname "$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)")}"
"$BIN/clang" --target=wasm32 -O2 -nostdlib -mbulk-memory -c counter.c -o counter.o
"$BIN/wasm-ld" --no-entry --strip-all --gc-sections counter.o -o counter.wasm
rm -f counter.o
echo "counter.wasm: $(wc -c < counter.wasm) bytes"
