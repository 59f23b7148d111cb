#!/bin/bash
# Builds the native cpu kernels into prebuilds/linux-x64/ (run by hand, never at install):
#   libtorchlet_kernels.so       x86-64 baseline (SSE2), loads on every x86-64 cpu
#   libtorchlet_kernels_v3.so    x86-64-v3 (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE)
# src/device/cpu/native.ts picks v3 when /proc/cpuinfo lists those features.
# Needs gcc; the results link against glibc only (libc, libm). Check with: ldd prebuilds/linux-x64/*.so
set -euo pipefail
cd "$(dirname "$0")/.."
out=prebuilds/linux-x64
mkdir -p "$out"
# GNU C (not -std=c11) keeps -ffp-contract=fast: a*b+c may become one FMA, which the kernels allow.
# No -ffast-math: NaN, Inf and signed zeros must behave as in the JS kernels.
common=(-std=gnu11 -O3 -fPIC -shared -pthread -fvisibility=hidden -fno-math-errno -fno-trapping-math
  -fno-semantic-interposition -Wall -Wextra -Wno-unused-parameter -Wno-psabi -Wl,--as-needed -Wl,-z,noexecstack -s)
# each library is written to a temporary name and renamed over the old one: a process that has
# the old one loaded keeps its (unlinked) file instead of seeing it rewritten under it
build() {
  local name=$1; shift
  local tmp="$out/.$name.$$.tmp"
  gcc "${common[@]}" "$@" -o "$tmp" native/kernels.c native/vmath512.c -lm -ldl
  mv -f "$tmp" "$out/$name"
}
build libtorchlet_kernels.so -march=x86-64 -mtune=generic
build libtorchlet_kernels_v3.so -march=x86-64-v3 -mtune=znver3
ls -l "$out"
