#!/usr/bin/env bash
# install-deps.sh: install everything sluice needs on a fresh Debian machine.
#
# Idempotent: a second run checks, finds everything present and returns in
# seconds. Called by `make up`, `make test` and .ci/run; safe to run by hand.
# Installs Debian packages (C libraries, redis-server, redis-sentinel, kcat,
# Java, Maven) and
# the Apache Kafka 3.9.x jars (resolved through Maven into $SLUICE_STATE/kafka).
# Non-goals: anything that is not a Debian package or a Maven artifact.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PKGS=(build-essential pkg-config librdkafka-dev libhiredis-dev libuv1-dev
      libhttp-parser-dev libwslay-dev libjansson-dev libssl-dev libcmocka-dev
      redis-server redis-tools redis-sentinel kcat default-jre-headless maven curl procps
      python3 python3-pip valgrind)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing Debian packages: ${missing[*]}"
	sudo_ apt-get update -qq
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Debian starts redis-server as a service on install; the stack runs its
	# own instances on their own ports, so the packaged one is left alone.
fi

"$here/fetch-kafka.sh"

# Area-specific installs (Python/Node test clients, browsers): one script each.
for extra in "$here"/install.d/*.sh; do
	[ -f "$extra" ] && bash "$extra"
done
exit 0
