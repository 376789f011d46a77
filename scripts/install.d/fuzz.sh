#!/usr/bin/env bash
# install.d/fuzz.sh: what the fuzz targets need: clang with libFuzzer and
# the sanitizer runtimes (Debian's clang and libclang-rt-dev). `make fuzz`
# builds the targets with them; `make test` replays their corpora with the
# same clang build, so a crash once found stays fixed.
#
# Run by scripts/install-deps.sh; idempotent and quiet when all is present.
# Non-goals: anything for the product itself (it is built with gcc).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
	>/dev/null 2>&1; then
	say "installing Debian packages: clang, libclang-rt-dev (fuzz targets)"
	sudo_ apt-get update -qq
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang \
		"$(apt-cache depends clang 2>/dev/null | awk '/Depends: clang-[0-9]+$/ {sub("clang-", "libclang-rt-", $2); print $2 "-dev"; exit}')" \
		>/dev/null
fi
