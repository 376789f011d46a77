#!/usr/bin/env bash
# 0106-tools-three-brokers: on a three-broker stack (the seed's 2F+1), a
# topic created with --replication-factor 3 shows 3 replicas in ISR; with
# one broker killed, `sluice produce` (acks=all, idempotent,
# min.insync.replicas=2) still succeeds and every record is consumed back.
# With min.insync.replicas=3 the same produce cannot be acknowledged: every
# record is reported and the exit status is 1, within the bound.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# The suite's shared three-broker stack (run-all.sh stops it; the broker
# this test stops is started again by the next it_cluster_up).
it_cluster_up || fail "could not start a three-broker stack"
b=$SLUICE_KAFKA_BROKERS
S=$SLUICE_BIN
t=$(unique replicated)
"$S" topics --bootstrap-server "$b" --create --topic "$t" --partitions 3 --replication-factor 3 --config min.insync.replicas=2 >/dev/null
t3=$(unique strict)
"$S" topics --bootstrap-server "$b" --create --topic "$t3" --partitions 1 --replication-factor 3 --config min.insync.replicas=3 >/dev/null
# sorted_ids "3,1,2" -> "1,2,3"
sorted_ids() { tr ',' '\n' | sort -n | tr '\n' ',' | sed 's/,$//'; }
isr_of() { # topic -> one "replicas|isr" line per partition, ids sorted
	"$S" topics --bootstrap-server "$b" --describe --topic "$1" | awk -F'\t' 'NR > 1 {print $5 "|" $6}' |
		sed 's/Replicas: //; s/Isr: //' | while IFS='|' read -r r i; do echo "$(echo "$r" | sorted_ids)|$(echo "$i" | sorted_ids)"; done
}
wait_for 30 "full ISR" bash -c "[ \"\$('$S' topics --bootstrap-server '$b' --describe --topic '$t' | grep -c 'Isr: [0-9],[0-9],[0-9]$')\" = 3 ]" || fail "ISR never reached 3"
expect_eq "3 partitions, 3 replicas, all in ISR" "$(printf '1,2,3|1,2,3\n1,2,3|1,2,3\n1,2,3|1,2,3')" "$(isr_of "$t")"
expect_eq "describe header" "PartitionCount: 3	ReplicationFactor: 3	Configs: min.insync.replicas=2" \
	"$("$S" topics --bootstrap-server "$b" --describe --topic "$t" | head -1 | cut -f2-)"

pid=$(cat "$SLUICE_STATE/it-cluster/kafka-2/pid")
kill "$pid"
wait_for 60 "broker 2 out of every ISR" bash -c "[ \"\$('$S' topics --bootstrap-server '$b' --describe --topic '$t' | grep -c 'Isr: [13],[13]$')\" = 3 ]" \
	|| fail "ISR did not shrink: $("$S" topics --bootstrap-server "$b" --describe --topic "$t")"
pass "broker 2 left the ISR"
seq 2000 | timeout 120 "$S" produce --bootstrap-server "$b" --topic "$t" --kafka-timeout-ms 30000
pass "produce with acks=all succeeds with one broker down"
got=$(timeout 60 "$S" consume --bootstrap-server "$b" --topic "$t" --from-beginning --max-messages 2000 | sort -n)
expect_eq "every record consumed back, once" "$(seq 2000)" "$got"

rc=0
err=$(seq 5 | timeout 60 "$S" produce --bootstrap-server "$b" --topic "$t3" --kafka-timeout-ms 3000 2>&1) || rc=$?
expect_eq "min.insync.replicas=3 with a broker down: exit 1" 1 "$rc"
expect_eq "each of the 5 records reported" "1 2 3 4 5" \
	"$(printf '%s\n' "$err" | sed -n 's/^sluice produce: line \([0-9]*\) not delivered: .*/\1/p' | sort -n | tr '\n' ' ' | sed 's/ $//')"
printf '%s\n' "$err" | grep -qx "sluice produce: 5 of 5 records not delivered" || fail "no summary: $err"
pass "summary line"
