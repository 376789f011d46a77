#!/usr/bin/env bash
# install-centrifugo.sh: build Centrifugo v6.9.1, the peer that
# bench/centrifugo.sh measures sluice against, into .state/centrifugo/.
#
# How it fits: bench/centrifugo.sh runs it first; nothing else does (`make
# test` and the product never need Centrifugo). Centrifugo is Go: this
# builds its module github.com/centrifugal/centrifugo/v6 at CENTRIFUGO_VERSION
# with the machine's Go toolchain (`go build` in a throw-away module under
# .state/centrifugo/src, sources from the Go module proxy that `go` is set up
# to use), so the binary is the released source, built here.
# Idempotent: exits at once when .state/centrifugo/centrifugo-<version>
# exists and answers `version`. Prints the binary's path on stdout.
# References: Centrifugo's docs, "Installation" (build from source).
# Non-goals: configuring or running Centrifugo (bench/centrifugo.sh does).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib.sh"
ver=${CENTRIFUGO_VERSION:-v6.9.1}
dir=$SLUICE_STATE/centrifugo
bin=$dir/centrifugo-$ver

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
	echo "$bin"
	exit 0
fi
command -v go >/dev/null 2>&1 || { echo "install-centrifugo.sh: needs Go (go1.24 or newer)" >&2; exit 1; }
echo "install-centrifugo.sh: building Centrifugo $ver with $(go version | cut -d' ' -f3) (a few minutes)" >&2
src=$dir/src
rm -rf "$src"; mkdir -p "$src"
cd "$src"
cat > go.mod <<MOD
module sluice.bench/centrifugo

go 1.24
MOD
# A one-line main that calls Centrifugo's own: the build is the released
# module, only the package path differs.
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/centrifugal/centrifugo/v6"
GO
go get "github.com/centrifugal/centrifugo/v6@$ver" >&2
go mod tidy >&2 2>/dev/null || true
nice go build -trimpath -ldflags "-s -w -X github.com/centrifugal/centrifugo/v6/internal/build.Version=${ver#v}" \
	-o "$bin.tmp" github.com/centrifugal/centrifugo/v6 >&2
mv "$bin.tmp" "$bin"
"$bin" version >&2
echo "$bin"
