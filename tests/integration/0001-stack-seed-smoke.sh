#!/usr/bin/env bash
# 0001-stack-seed-smoke: the stack is real: the seed's smoke test with
# Apache Kafka's own console tools (42 records in, the same 42 out), and
# Redis answers with the append-only file on.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
topic=$(unique foo)
cp="$KAFKA_LIBS/*"
log4j="-Dlog4j.configuration=file:$KAFKA_LIBS/tools-log4j.properties"
seq 42 | timeout 60 java $log4j -cp "$cp" kafka.tools.ConsoleProducer --request-required-acks 1 \
	--bootstrap-server "$SLUICE_KAFKA_BROKERS" --topic "$topic" 2>/dev/null
got=$(timeout 60 java $log4j -cp "$cp" org.apache.kafka.tools.consumer.ConsoleConsumer \
	--bootstrap-server "$SLUICE_KAFKA_BROKERS" --topic "$topic" --from-beginning --max-messages 42 2>/dev/null | sort -n | tr '\n' ' ')
expect_eq "42 records through Kafka's console tools" "$(seq 42 | tr '\n' ' ')" "$got"
port=${SLUICE_REDIS_URL##*:}; port=${port%%/*}
expect_eq "redis append-only file on" "appendonly yes" "$(redis-cli -p "$port" config get appendonly | tr '\n' ' ' | sed 's/ $//')"
