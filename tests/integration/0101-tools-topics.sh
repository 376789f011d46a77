#!/usr/bin/env bash
# 0101-tools-topics: sluice topics: create (with --config and
# --if-not-exists), list, describe (partitions, leader, replicas, ISR,
# topic configs), alter --partitions, delete; and the errors: an existing
# topic, a shrinking alter, a missing topic, no action, two actions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
s() { timeout 60 "$SLUICE_BIN" topics --bootstrap-server "$SLUICE_KAFKA_BROKERS" "$@"; }
t=$(unique topics)
expect_eq "create" "Created topic $t." "$(s --create --topic "$t" --partitions 3 --replication-factor 1 --config retention.ms=86400000 --config cleanup.policy=compact)"
expect_eq "create --if-not-exists on an existing topic is quiet" "" "$(s --create --if-not-exists --topic "$t" --partitions 3)"
expect_exit "create an existing topic fails" 1 s --create --topic "$t" --partitions 3
err=$(s --create --topic "$t" 2>&1 >/dev/null || true)
expect_eq "its message" "sluice topics: topic '$t' already exists" "$err"
s --list | grep -qx "$t" || fail "list does not show $t"; pass "list shows the topic"
want=$(printf 'Topic: %s\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: cleanup.policy=compact,retention.ms=86400000\n' "$t"
for p in 0 1 2; do printf '\tTopic: %s\tPartition: %d\tLeader: 1\tReplicas: 1\tIsr: 1\n' "$t" "$p"; done)
expect_eq "describe" "$want" "$(s --describe --topic "$t")"
s --describe | grep -q "^Topic: $t	PartitionCount: 3" || fail "describe of all topics lacks $t"; pass "describe all"
expect_eq "alter" "Altered topic $t to 5 partitions." "$(s --alter --topic "$t" --partitions 5)"
expect_eq "describe after alter" "PartitionCount: 5" "$(s --describe --topic "$t" | head -1 | grep -o 'PartitionCount: [0-9]*')"
expect_exit "shrinking fails" 1 s --alter --topic "$t" --partitions 2
expect_eq "still 5 after a refused shrink" "PartitionCount: 5" "$(s --describe --topic "$t" | head -1 | grep -o 'PartitionCount: [0-9]*')"
expect_eq "delete" "Deleted topic $t." "$(s --delete --topic "$t")"
wait_for 20 "topic gone" bash -c "! timeout 10 '$SLUICE_BIN' topics --bootstrap-server '$SLUICE_KAFKA_BROKERS' --list | grep -qx '$t'" || fail "topic still listed"
pass "deleted topic leaves the list"
expect_exit "delete a missing topic fails" 1 s --delete --topic "$t"
expect_exit "delete --if-exists a missing topic is fine" 0 s --delete --if-exists --topic "$t"
err=$(s --describe --topic "$t" 2>&1 >/dev/null || true)
expect_eq "describe a missing topic" "sluice topics: topic '$t' does not exist" "$err"
expect_exit "no action is a usage error" 2 s --topic "$t"
expect_exit "two actions is a usage error" 2 s --list --delete --topic "$t"
expect_exit "create without --topic" 2 s --create
expect_exit "alter without --partitions" 2 s --alter --topic "$t"
expect_exit "bad --config" 2 s --create --topic "$t" --topic-config novalue
expect_exit "unknown topic config is refused by Kafka" 1 s --create --topic "$t" --config no.such.config=1
s --list | grep -qx "$t" && fail "a refused create left a topic"; pass "a refused create changes nothing"
