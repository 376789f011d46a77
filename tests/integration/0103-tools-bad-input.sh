#!/usr/bin/env bash
# 0103-tools-bad-input: every bad input of the console tools gets one clear
# line on stderr and a distinct exit status (2 usage, 1 runtime), within
# its bound, without a crash: unknown flag, missing --topic, unreachable
# broker, a topic that does not exist on consume, empty stdin, bad
# properties, a line without the key separator, bad offsets.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
b=$SLUICE_KAFKA_BROKERS
# check WHAT CODE EXPECTED-STDERR CMD...: exit status and the exact one line.
check() {
	local what=$1 code=$2 want=$3; shift 3
	local rc=0 err
	err=$(timeout 30 "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$code" ] || fail "$what: expected exit $code, got $rc ($err)"
	expect_eq "$what" "$want" "$err"
}
S=$SLUICE_BIN
t=$(unique exists)
printf 'one\n' | "$S" produce --bootstrap-server "$b" --topic "$t"
check "unknown flag (produce)" 2 "sluice produce: unknown option '--bogus' (see produce --help)" "$S" produce --bogus </dev/null
check "unknown flag (consume)" 2 "sluice consume: unknown option '--nope' (see consume --help)" "$S" consume --nope
check "unknown flag (groups)" 2 "sluice groups: unknown option '--x' (see groups --help)" "$S" groups --x
check "missing topic (produce)" 2 "sluice produce: --topic is required" "$S" produce --bootstrap-server "$b" </dev/null
check "missing topic (consume)" 2 "sluice consume: --topic is required" "$S" consume --bootstrap-server "$b"
check "flag without value" 2 "sluice consume: option --topic needs a value" "$S" consume --topic
check "bad number" 2 "sluice consume: bad value for --max-messages: 'ten' (from flag): expected a number" "$S" consume --topic "$t" --max-messages ten
check "zero --max-messages" 2 "sluice consume: bad value for --max-messages: '0' (from flag): must be 1..9e+15" "$S" consume --topic "$t" --max-messages 0
check "unknown property" 2 "sluice consume: unknown --property 'print.nothing' (known: print.key, print.value, print.timestamp, print.partition, print.offset, key.separator, line.separator, null.literal)" "$S" consume --topic "$t" --property print.nothing=true
check "bad property value" 2 "sluice consume: bad --property print.key=maybe: expected true or false" "$S" consume --topic "$t" --property print.key=maybe
check "bad format" 2 "sluice consume: bad --format 'xml': expected text or json" "$S" consume --topic "$t" --format xml
check "offset without partition" 2 "sluice consume: --offset needs --partition" "$S" consume --topic "$t" --offset 3
check "bad offset" 2 "sluice consume: bad --offset '-5': expected earliest, latest or a number >= 0" "$S" consume --topic "$t" --partition 0 --offset -5
check "partition with group" 2 "sluice consume: --partition cannot be combined with --group" "$S" consume --topic "$t" --partition 0 --group g
check "bad librdkafka property" 2 "sluice produce: kafka property no.such=1: No such configuration property: \"no.such\"" "$S" produce --topic "$t" -X kafka.no.such=1 </dev/null
check "positional argument" 2 "sluice produce: unexpected argument 'file.txt' (records come from stdin)" "$S" produce --topic "$t" file.txt </dev/null
# Runtime errors: exit 1, bounded by --kafka-timeout-ms.
start=$(date +%s)
check "unreachable broker (produce)" 1 "sluice produce: cannot reach Kafka at 127.0.0.1:1 within 1500 ms (Local: Broker transport failure)" "$S" produce --bootstrap-server 127.0.0.1:1 --kafka-timeout-ms 1500 --topic "$t" < <(echo x)
check "unreachable broker (consume)" 1 "sluice consume: cannot reach Kafka at 127.0.0.1:1 within 1500 ms (Local: Broker transport failure)" "$S" consume --bootstrap-server 127.0.0.1:1 --kafka-timeout-ms 1500 --topic "$t"
check "unreachable broker (topics)" 1 "sluice topics: cannot reach Kafka at 127.0.0.1:1 within 1500 ms (Local: Broker transport failure)" "$S" topics --bootstrap-server 127.0.0.1:1 --kafka-timeout-ms 1500 --list
check "unreachable broker (groups)" 1 "sluice groups: cannot reach Kafka at 127.0.0.1:1 within 1500 ms (Local: Broker transport failure)" "$S" groups --bootstrap-server 127.0.0.1:1 --kafka-timeout-ms 1500 --list
[ $(( $(date +%s) - start )) -lt 20 ] || fail "unreachable-broker checks took too long"
pass "unreachable broker is bounded"
missing=$(unique missing)
check "topic that does not exist (consume)" 1 "sluice consume: topic '$missing' does not exist" "$S" consume --bootstrap-server "$b" --topic "$missing" --from-beginning
"$S" topics --bootstrap-server "$b" --list | grep -qx "$missing" && fail "consume created the topic"
pass "consume did not create the topic"
check "partition that does not exist" 1 "sluice consume: topic '$t' has no partition 7 (it has 1)" "$S" consume --bootstrap-server "$b" --topic "$t" --partition 7 --offset 0
check "empty stdin" 1 "sluice produce: stdin is empty: no records to produce" "$S" produce --bootstrap-server "$b" --topic "$t" </dev/null
check "no key separator" 1 "sluice produce: no key separator found on line 2 (use --property ignore.error=true to send such lines with a null key)" \
	"$S" produce --bootstrap-server "$b" --topic "$t" --property parse.key=true --property key.separator=: < <(printf 'a:1\nbad\nc:3\n')
check "line longer than --max-line-bytes" 1 "sluice produce: line 2 is longer than 1024 bytes" \
	"$S" produce --bootstrap-server "$b" --topic "$(unique long)" --max-line-bytes 1024 < <(echo ok; head -c 3000 /dev/zero | tr '\0' y; echo)
check "invalid topic name: each record reported" 1 "$(printf 'sluice produce: line 1 not delivered: Broker: Invalid topic\nsluice produce: line 2 not delivered: Broker: Invalid topic\nsluice produce: 2 of 2 records not delivered')" \
	"$S" produce --bootstrap-server "$b" --topic 'bad topic!' < <(seq 2)
rc=0; err=$(timeout 30 "$S" consume --bootstrap-server "$b" --topic "$t" --group "$(unique g)" --consumer-property session.timeout.ms=1000 2>&1 >/dev/null) || rc=$?
expect_eq "a group the broker refuses: exit 1" 1 "$rc"
printf '%s\n' "$err" | tail -1 | grep -q "^sluice consume: .*JoinGroup failed: Broker: Invalid session timeout$" || fail "no clear last line: $err"
pass "a group the broker refuses: one clear line"
check "unknown group" 1 "sluice groups: group '$missing' does not exist" "$S" groups --bootstrap-server "$b" --describe --group "$missing"
check "groups without action" 2 "sluice groups: give exactly one of --list or --describe" "$S" groups --bootstrap-server "$b"
check "describe without group" 2 "sluice groups: --describe needs --group" "$S" groups --bootstrap-server "$b" --describe
# The line before the bad one was sent (streaming), the one after was not.
expect_eq "bad key line stops the input there" "$(printf 'one\n1')" "$("$S" consume --bootstrap-server "$b" --topic "$t" --from-beginning --timeout-ms 1500)"
