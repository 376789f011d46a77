#!/usr/bin/env bash
# status.sh: `make status`: what of the local system runs, where, and who
# leads what.
#
# Every part is asked (Kafka: a metadata request; Redis and Sentinels:
# PING; roles: /healthz), never `kill -0`: "up" answers, "hung" exists but
# does not answer (stopped, overloaded), "dead" is gone (a zombie counts as
# gone). A part that is not up is shown with the tail of its log. Then the
# leaders: partitions per broker, the KRaft quorum leader (three brokers),
# the Redis primary per Sentinel, and the partitions each reducer owns.
# Exit 0 when everything is up, 1 otherwise.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/topology.sh"
run=$SLUICE_RUN
if [ ! -f "$run/shape" ] && [ ! -f "$SLUICE_STATE/stack/layout" ]; then
	echo "nothing is up (make up starts it)"; exit 1
fi
shape=$(current_shape single)
export SLUICE_STACK_DIR
SLUICE_STACK_DIR=$(stack_dir_of "$shape")
rc=0
echo "== stack ($shape, $SLUICE_STACK_DIR)"
"$here/stack.sh" status || rc=1
echo "== roles"
while read -r name port role; do
	st=$(liveness http "$port" "$run/$name.pid")
	extra=""
	if [ "$st" = up ] && [ "$role" = reducer ]; then
		owned=$(curl -fsS -m 2 "http://127.0.0.1:$port/metrics" 2>/dev/null | awk '$1 == "sluice_reducer_partitions_owned" {print int($2)}')
		extra="owns ${owned:-?} partition(s)"
	fi
	if [ "$st" = up ] && ! curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then
		extra="$extra not ready: $(curl -sS -m 2 "http://127.0.0.1:$port/readyz" 2>/dev/null | head -c 200)"
	fi
	printf '%-12s %-5s 127.0.0.1:%-5s %s %s\n' "$name" "$st" "$port" "$role" "$extra"
	if [ "$st" != up ]; then
		rc=1
		if [ -f "$run/$name.log" ]; then log_tail "$run/$name.log" 10; else echo "    (never started)"; fi
	fi
done < <(topology "$shape")
echo "== leaders"
"$here/stack.sh" leaders || rc=1
exit $rc
