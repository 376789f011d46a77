#!/usr/bin/env bash
# 0104-tools-interop: sluice's tools and the others agree byte for byte.
# Records produced by `sluice produce` (keys and values) are read back
# exactly by Kafka's own ConsoleConsumer and by kcat; records produced by
# Kafka's ConsoleProducer and by kcat are read back exactly by
# `sluice consume`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
b=$SLUICE_KAFKA_BROKERS
S=$SLUICE_BIN
cp="$KAFKA_LIBS/*"
log4j="-Dlog4j.configuration=file:$KAFKA_LIBS/log4j.properties"
command -v kcat >/dev/null || fail "kcat is missing (scripts/install-deps.sh installs it)"
# 200 keyed records with UTF-8, spaces and separators inside values.
records=$(for i in $(seq 200); do printf 'key-%d:value %d caf\xc3\xa9 a=b,c\n' "$i" "$i"; done)
n=200

t=$(unique interop-a)
"$S" topics --bootstrap-server "$b" --create --topic "$t" --partitions 3 >/dev/null
printf '%s\n' "$records" | timeout 60 "$S" produce --bootstrap-server "$b" --topic "$t" --property parse.key=true --property key.separator=:
got=$(timeout 90 java $log4j -cp "$cp" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$b" --topic "$t" \
	--from-beginning --max-messages $n --property print.key=true --property key.separator=: 2>/dev/null | sort -V)
expect_eq "sluice produce -> Kafka ConsoleConsumer" "$records" "$got"
got=$(timeout 60 kcat -b "$b" -C -t "$t" -o beginning -c $n -e -q -f '%k:%s\n' | sort -V)
expect_eq "sluice produce -> kcat" "$records" "$got"

t=$(unique interop-b)
"$S" topics --bootstrap-server "$b" --create --topic "$t" --partitions 3 >/dev/null
printf '%s\n' "$records" | timeout 90 java $log4j -cp "$cp" kafka.tools.ConsoleProducer --bootstrap-server "$b" --topic "$t" \
	--property parse.key=true --property key.separator=: 2>/dev/null
got=$(timeout 60 "$S" consume --bootstrap-server "$b" --topic "$t" --from-beginning --max-messages $n \
	--property print.key=true --property key.separator=: | sort -V)
expect_eq "Kafka ConsoleProducer -> sluice consume" "$records" "$got"

t=$(unique interop-c)
"$S" topics --bootstrap-server "$b" --create --topic "$t" --partitions 3 >/dev/null
printf '%s\n' "$records" | timeout 60 kcat -b "$b" -P -t "$t" -K:
got=$(timeout 60 "$S" consume --bootstrap-server "$b" --topic "$t" --from-beginning --max-messages $n \
	--property print.key=true --property key.separator=: | sort -V)
expect_eq "kcat -> sluice consume" "$records" "$got"
# JSON output of kcat's records names the same keys and values.
got=$(timeout 60 "$S" consume --bootstrap-server "$b" --topic "$t" --from-beginning --max-messages $n --format json \
	| python3 -c 'import json,sys; [print("%s:%s" % (r["key"], r["value"])) for r in map(json.loads, sys.stdin)]' | sort -V)
expect_eq "kcat -> sluice consume --format json" "$records" "$got"
