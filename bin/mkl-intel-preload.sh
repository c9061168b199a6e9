#!/usr/bin/env bash
# Builds the MKL vendor switch (cogvideox-core/src/main/c/mkl_intel_cpu.c) into a shared object and prints
# its absolute path; compiles only when the object is missing or older than the source.
# See docs/mkl-switch.md.
#
#   LD_PRELOAD="$(bin/mkl-intel-preload.sh)" java ...
#
# Environment: CC (default gcc), COGVIDEOX_NATIVE_DIR (default cogvideox-core/target/native in a source
# checkout, native/ in the distribution that `mvn package` builds in cogvideox-lora/target/cogvideox, which
# ships this script in bin/ and the source in native/).
# Exits non-zero with a message on stderr when no C compiler is found or compilation fails; never prints a
# path it did not build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -d "$root/cogvideox-core" ]]; then
  src="$root/cogvideox-core/src/main/c/mkl_intel_cpu.c"
  default_out_dir="$root/cogvideox-core/target/native"
else
  src="$root/native/mkl_intel_cpu.c"
  default_out_dir="$root/native"
fi
out_dir="${COGVIDEOX_NATIVE_DIR:-$default_out_dir}"
out="$out_dir/libmkl_intel_cpu.so"
cc="${CC:-gcc}"

if [[ ! -f "$src" ]]; then
  echo "mkl-intel-preload: source $src not found" >&2
  exit 1
fi

if [[ ! -f "$out" || "$src" -nt "$out" ]]; then
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "mkl-intel-preload: the MKL vendor switch needs a C compiler to build $out, but '$cc' was not found." >&2
    echo "  Install one (Debian: apt-get install gcc) or set CC, or turn the switch off" >&2
    echo "  (unset COGVIDEOX_MKL_INTEL, or -Dmkl.intel=false)." >&2
    exit 1
  fi
  mkdir -p "$out_dir"
  tmp="$(mktemp "$out_dir/.libmkl_intel_cpu.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  if ! "$cc" -O2 -shared -fPIC -o "$tmp" "$src" >&2; then
    echo "mkl-intel-preload: '$cc' failed to compile $src" >&2
    exit 1
  fi
  chmod 755 "$tmp"
  mv -f "$tmp" "$out"   # atomic: concurrent callers never see a half-written object
  trap - EXIT
fi

echo "$out"
