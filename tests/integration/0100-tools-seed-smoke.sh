#!/usr/bin/env bash
# 0100-tools-seed-smoke: the seed's smoke test as the seed writes it, with
# sluice's tools instead of kafka-console-producer/consumer: 42 lines in,
# "Produced 42 messages.", then 1..42 out, each exactly once. The topic does
# not exist before: the broker creates it on produce (Kafka's default).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
sluice=$SLUICE_BIN
foo=$(unique foo)
# The seed names the broker "localhost:9092"; ours is on a free port.
broker=localhost:${SLUICE_KAFKA_BROKERS##*:}
out=$(seq 42 | timeout 60 "$sluice" produce --request-required-acks 1 --broker-list "$broker" --topic "$foo" && echo 'Produced 42 messages.')
expect_eq "producer says it produced" "Produced 42 messages." "$out"
got=$(timeout 60 "$sluice" consume --bootstrap-server "$broker" --topic "$foo" --from-beginning --max-messages 42)
expect_eq "42 lines back, in order (one partition)" "$(seq 42)" "$got"
expect_eq "each once" "42" "$(printf '%s\n' "$got" | sort -u | wc -l)"
# The same with the default idempotent producer (acks=all) on a 3-partition topic.
bar=$(unique bar)
timeout 60 "$sluice" topics --bootstrap-server "$broker" --create --topic "$bar" --partitions 3 --replication-factor 1 >/dev/null
seq 1000 | timeout 60 "$sluice" produce --broker-list "$broker" --topic "$bar"
got=$(timeout 60 "$sluice" consume --bootstrap-server "$broker" --topic "$bar" --from-beginning --max-messages 1000 | sort -n)
expect_eq "1000 records over 3 partitions, each once" "$(seq 1000)" "$got"
