#!/usr/bin/env bash
# 1202-chaos-short: the chaos run's short form (tests/chaos/chaos.py; the
# full one is `make chaos`). On the suite's three-broker stack with a
# Redis primary, replica and three Sentinels, with the roles under ASan
# (so a leak or a bad access on any fault path fails it): 200 clients
# subscribed through two publishers while the feed runs at 1,000
# records/s, each fault once (a reducer SIGKILLed, the broker leading the
# most partitions SIGKILLed, a broker SIGSTOPped for 30 s, the Redis
# primary SIGKILLed, a publisher SIGKILLed, an api SIGKILLed between its
# Redis write and its Kafka command), then the same end checks: Redis
# state and every client's view equal each market's last Kafka record,
# sampled clients never went down an offset and applied only Kafka's
# values, nothing a producer was told is stored is missing, no half
# channel, every role exits 0 on SIGTERM. The report is kept in
# .state/test-logs/1202-chaos-report.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_cluster_up || fail "could not start the three-broker stack"
out="$SLUICE_STATE/chaos-it"
rm -rf "$out"
if python3 "$IT_ROOT/tests/chaos/chaos.py" --stack-dir "$SLUICE_STATE/it-cluster" --bin "$SLUICE_RELEASE_BIN" \
	--role-bin "$SLUICE_BIN" --clients 200 --markets 100 --rate 1000 --sample-every 20 --out "$out" \
	--report "$SLUICE_STATE/test-logs/1202-chaos-report.md"; then
	rm -rf "$out"
	pass "chaos, short form"
else
	# Kept past the next run, which starts by removing $out.
	rm -rf "$out.failed"; mv "$out" "$out.failed"
	fail "chaos run failed (logs in $out.failed)"
fi
