#!/usr/bin/env bash
# 0105-tools-groups: sluice groups --list shows a group that committed;
# --describe shows per partition the committed offset, the end offset and
# the lag, exactly, and while a consumer runs, its member id, host and
# client id; a consumer stopped with SIGTERM exits 0 and commits.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
b=$SLUICE_KAFKA_BROKERS
S=$SLUICE_BIN
t=$(unique grouped)
g=$(unique group)
"$S" topics --bootstrap-server "$b" --create --topic "$t" --partitions 2 >/dev/null
printf 'a:1\na:2\na:3\nb:4\nb:5\nb:6\na:7\n' | "$S" produce --bootstrap-server "$b" --topic "$t" --property parse.key=true --property key.separator=:
# Which partition got which key does not matter: count per partition from the data.
expect_eq "read 3 with the group" 3 "$("$S" consume --bootstrap-server "$b" --topic "$t" --group "$g" --from-beginning --max-messages 3 | wc -l)"
"$S" groups --bootstrap-server "$b" --list | grep -qx "$g" || fail "--list lacks $g"
pass "list shows the group"
desc=$("$S" groups --bootstrap-server "$b" --describe --group "$g")
printf '%s\n' "$desc"
expect_eq "header" "Group $g: state Empty, 0 member(s)" "$(printf '%s\n' "$desc" | head -1)"
# Sum of committed offsets is 3, of end offsets 7, of lags 4 (a partition
# with no commit shows "-" and counts its whole log as not consumed).
rows=$(printf '%s\n' "$desc" | awk -v g="$g" '$1 == g')
expect_eq "committed total" 3 "$(printf '%s\n' "$rows" | awk '$4 != "-" {s += $4} END {print s+0}')"
expect_eq "end total" 7 "$(printf '%s\n' "$rows" | awk '{s += $5} END {print s+0}')"
expect_eq "lag of committed partitions = end - committed" "ok" "$(printf '%s\n' "$rows" | awk '$4 != "-" && $6 != $5 - $4 {bad=1} END {print bad ? "bad" : "ok"}')"
# A running member shows in the description.
log=$(mktemp)
"$S" consume --bootstrap-server "$b" --topic "$t" --group "$g" --from-beginning > "$log" &
pid=$!
wait_for 30 "member joins" bash -c "'$S' groups --bootstrap-server '$b' --describe --group '$g' | grep -q '1 member(s)'" || { kill $pid; fail "no member"; }
wait_for 30 "4 more read" bash -c "[ \$(wc -l < '$log') -ge 4 ]" || { kill $pid; fail "member did not read"; }
desc=$("$S" groups --bootstrap-server "$b" --describe --group "$g")
printf '%s\n' "$desc"
printf '%s\n' "$desc" | grep -q "^  member sluice-consume-.* client sluice-consume partitions 2$" || { kill $pid; fail "member line"; }
pass "member line with 2 partitions"
[ "$(printf '%s\n' "$desc" | awk -v g="$g" '$1 == g && $9 == "sluice-consume"' | wc -l)" = 2 ] || { kill $pid; fail "rows lack the owner"; }
pass "both partitions owned by the member"
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "SIGTERM: clean exit" 0 "$rc"
expect_eq "the member printed the 4 it had not read" 4 "$(wc -l < "$log")"
rm -f "$log"
desc=$("$S" groups --bootstrap-server "$b" --describe --group "$g")
rows=$(printf '%s\n' "$desc" | awk -v g="$g" '$1 == g')
expect_eq "after SIGTERM everything read is committed" 7 "$(printf '%s\n' "$rows" | awk '$4 != "-" {s += $4} END {print s+0}')"
expect_eq "and the lag is 0" 0 "$(printf '%s\n' "$rows" | awk '$6 != "-" {s += $6} END {print s+0}')"
