#!/usr/bin/env bash
# 0102-tools-produce-consume: keys and values round-trip exactly (parse.key,
# key.separator, escapes, empty values, '\r' and UTF-8 kept), --format json,
# print.* properties, --partition/--offset, --timeout-ms, groups that commit
# only what they printed, compression codecs, acks, and a record the broker
# refuses: reported with its line number, exit 1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
b=$SLUICE_KAFKA_BROKERS
S() { timeout 60 "$SLUICE_BIN" "$@"; }
t=$(unique keyed)
S topics --bootstrap-server "$b" --create --topic "$t" --partitions 1 >/dev/null
input=$'k1:v1\nk2:v:with:colons\n:emptykey\nk4:\nk5:caf\xc3\xa9\nk6:cr\r'
printf '%s' "$input" | S produce --bootstrap-server "$b" --topic "$t" --property parse.key=true --property key.separator=:
got=$(S consume --bootstrap-server "$b" --topic "$t" --from-beginning --max-messages 6 --property print.key=true --property key.separator=:)
expect_eq "keys and values exactly" "$input" "$got"
got=$(S consume --bootstrap-server "$b" --topic "$t" --from-beginning --max-messages 2 --format json | sed 's/"timestamp":[0-9]*/"timestamp":T/')
want="{\"topic\":\"$t\",\"partition\":0,\"offset\":0,\"timestamp\":T,\"key\":\"k1\",\"value\":\"v1\"}
{\"topic\":\"$t\",\"partition\":0,\"offset\":1,\"timestamp\":T,\"key\":\"k2\",\"value\":\"v:with:colons\"}"
expect_eq "json lines" "$want" "$got"
got=$(S consume --bootstrap-server "$b" --topic "$t" --from-beginning --max-messages 1 --property print.partition=true --property print.offset=true --property print.key=true)
expect_eq "print.partition/offset/key, tab separated" "$(printf 'Partition:0\tOffset:0\tk1\tv1')" "$got"
got=$(S consume --bootstrap-server "$b" --topic "$t" --partition 0 --offset 4 --max-messages 2)
expect_eq "--partition 0 --offset 4" "$(printf 'caf\xc3\xa9\ncr\r')" "$got"
got=$(S consume --bootstrap-server "$b" --topic "$t" --partition 0 --offset earliest --max-messages 1)
expect_eq "--offset earliest" "v1" "$got"
# Tab separator with the \t escape, no key: null literal.
t2=$(unique tabs)
printf 'a\tb\nnokey\n' | S produce --bootstrap-server "$b" --topic "$t2" --property parse.key=true --property 'key.separator=\t' --property ignore.error=true
got=$(S consume --bootstrap-server "$b" --topic "$t2" --from-beginning --max-messages 2 --property print.key=true --property key.separator=' | ')
expect_eq "tab separator and ignore.error (null key)" "$(printf 'a | b\nnull | nokey')" "$got"
# --timeout-ms: all there is, then exit 0; asking for more than there is: exit 1.
got=$(S consume --bootstrap-server "$b" --topic "$t2" --from-beginning --timeout-ms 1500)
expect_eq "--timeout-ms ends after the records" "$(printf 'b\nnokey')" "$got"
expect_exit "--max-messages not reached before --timeout-ms" 1 S consume --bootstrap-server "$b" --topic "$t2" --from-beginning --max-messages 3 --timeout-ms 1500
# Without --from-beginning a consumer starts at the end.
got=$(S consume --bootstrap-server "$b" --topic "$t2" --timeout-ms 1500)
expect_eq "default start is the end" "" "$got"
# Groups commit exactly what was printed.
g=$(unique grp)
t3=$(unique grouped)
seq 10 | S produce --bootstrap-server "$b" --topic "$t3"
expect_eq "group reads 4" "$(seq 4)" "$(S consume --bootstrap-server "$b" --topic "$t3" --group "$g" --from-beginning --max-messages 4)"
expect_eq "same group continues at 5" "$(seq 5 10)" "$(S consume --bootstrap-server "$b" --topic "$t3" --group "$g" --from-beginning --max-messages 6)"
# Codecs and acks.
for c in gzip snappy lz4 zstd; do
	tc=$(unique "codec-$c")
	seq 100 | S produce --bootstrap-server "$b" --topic "$tc" --compression-codec "$c" --request-required-acks 1
	expect_eq "codec $c round trip" "$(seq 100)" "$(S consume --bootstrap-server "$b" --topic "$tc" --from-beginning --max-messages 100)"
done
expect_exit "bad codec" 2 S produce --bootstrap-server "$b" --topic "$t" --compression-codec brotli </dev/null
# A record the broker refuses (larger than the topic's max.message.bytes):
# reported with its line number, the others delivered, exit 1.
tb=$(unique small)
S topics --bootstrap-server "$b" --create --topic "$tb" --partitions 1 --config max.message.bytes=200 >/dev/null
big=$(head -c 1000 /dev/zero | tr '\0' x)
rc=0; err=$(printf 'ok1\n%s\nok2\n' "$big" | S produce --bootstrap-server "$b" --topic "$tb" --request-required-acks 1 --producer-property batch.num.messages=1 2>&1) || rc=$?
expect_eq "refused record makes exit 1" 1 "$rc"
printf '%s\n' "$err" | grep -q "^sluice produce: line 2 not delivered: " || fail "no report of line 2: $err"
pass "line 2 reported"
printf '%s\n' "$err" | grep -q "^sluice produce: 1 of 3 records not delivered$" || fail "no summary: $err"
pass "summary line"
expect_eq "the two others were delivered" "$(printf 'ok1\nok2')" "$(S consume --bootstrap-server "$b" --topic "$tb" --from-beginning --max-messages 2)"
# SIGTERM while waiting on stdin ends the input like end-of-file: what was
# read is flushed, exit 0 (a terminal's Ctrl-C does the same).
ts=$(unique sigterm)
fifo=$(mktemp -u); mkfifo "$fifo"
exec 7<>"$fifo"
"$SLUICE_BIN" produce --bootstrap-server "$b" --topic "$ts" < "$fifo" &
pid=$!
printf 'one\ntwo\nthree\n' >&7
wait_for 30 "3 records in $ts" bash -c "[ \"\$(timeout 20 '$SLUICE_BIN' consume --bootstrap-server '$b' --topic '$ts' --from-beginning --max-messages 3 --timeout-ms 1000 2>/dev/null | wc -l)\" = 3 ]" \
	|| { kill $pid; fail "records did not arrive while stdin stayed open"; }
kill -TERM $pid
rc=0; wait $pid || rc=$?
exec 7>&-; rm -f "$fifo"
expect_eq "SIGTERM on a waiting producer: exit 0" 0 "$rc"
expect_eq "and its records are there, once" "$(printf 'one\ntwo\nthree')" "$(S consume --bootstrap-server "$b" --topic "$ts" --from-beginning --timeout-ms 1500)"
# On a terminal (stderr a tty, here a pty from script(1)) produce draws a
# rate line and consume prints its total; piped, neither says anything
# (the exact-stderr checks of 0103 hold that side).
tp=$(unique tty)
out=$(timeout 60 script -qec "seq 1000 | '$SLUICE_BIN' produce --bootstrap-server '$b' --topic '$tp'" /dev/null | tr '\r' '\n')
printf '%s\n' "$out" | grep -Eq '^sluice produce: 1000 sent, 1000 acknowledged, [0-9]+ records/s +$' || fail "no final rate line on a tty: $out"
pass "rate line on a terminal"
out=$(timeout 60 script -qec "'$SLUICE_BIN' consume --bootstrap-server '$b' --topic '$tp' --from-beginning --max-messages 1000 >/dev/null" /dev/null | tr -d '\r')
expect_eq "total on a terminal" "Processed a total of 1000 messages" "$out"
