#!/usr/bin/env bash
# 1201-stack-converge: `make up` converges and `make status` tells the
# truth, by asking each part (scripts/up.sh, status.sh, stack.sh, lib.sh).
# On a stack of its own with the whole system on free ports: everything is
# up (status exit 0); a SIGKILLed reducer, publisher, Redis and broker are
# reported dead with the tail of their log (exit 1), and one `up` starts
# exactly those again and leaves the rest (same pids); a pid file that
# names a zombie (what PID 1 leaves when it does not reap) counts as dead;
# a SIGSTOPped Redis is reported hung and left alone (no second one on its
# port), and is up again after SIGCONT. `down` stops everything.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
name=converge
d="$SLUICE_STATE/it-$name"
export SLUICE_RUN="$SLUICE_STATE/sys-$name-run"
cleanup() {
	[ -f "$d/redis/pid" ] && kill -CONT "$(cat "$d/redis/pid")" 2>/dev/null
	SLUICE_UP_STACK_DIR=$d "$IT_ROOT/scripts/down.sh" >/dev/null 2>&1 || true
	it_stack_down "$name"; rm -rf "$SLUICE_RUN"
	[ -n "${zpid:-}" ] && kill "$zpid" 2>/dev/null; true
}
trap cleanup EXIT
rm -rf "$SLUICE_RUN"
it_stack_up "$name" 1 || fail "stack did not start"
export SLUICE_UP_STACK_DIR=$d
rport=${SLUICE_REDIS_URL##*:}; rport=${rport%%/*}
for v in API PUBLISHER RESTPROXY REDUCER1 REDUCER2 FEED; do export "SLUICE_${v}_PORT=$(free_port)"; done
export SLUICE_DATA_TOPIC=$(unique conv-markets) SLUICE_COMMAND_TOPIC=$(unique conv-commands)
export SLUICE_REDIS_PREFIX=$(unique conv): SLUICE_REDUCER_GROUP=$(unique conv-reducers) SLUICE_FEED_RATE=5
timeout 180 "$IT_ROOT/scripts/up.sh" > "$SLUICE_STATE/it-$name.up.log" 2>&1 || { cat "$SLUICE_STATE/it-$name.up.log"; fail "up"; }
grep -q "sluice is up (single)" "$SLUICE_STATE/it-$name.up.log" || fail "no summary"
pass "up starts the system"
st() { timeout 60 "$IT_ROOT/scripts/status.sh" > "$SLUICE_STATE/it-$name.status" 2>&1; }
wait_for 30 "status exit 0" st || { cat "$SLUICE_STATE/it-$name.status"; fail "status not 0 with everything up"; }
pass "status: everything up, exit 0"
line() { grep -E "^$1 " "$SLUICE_STATE/it-$name.status" | awk '{print $2}'; }
expect_eq "reducer-1 up" up "$(line reducer-1)"
grep -q "^broker 1 at .* leads [0-9]* partition" "$SLUICE_STATE/it-$name.status" || fail "no leaders in status"
pass "status shows the leaders"

pid_api=$(cat "$SLUICE_RUN/api.pid") pid_r1=$(cat "$SLUICE_RUN/reducer-1.pid")
kill -KILL "$(cat "$SLUICE_RUN/reducer-2.pid")" "$(cat "$SLUICE_RUN/publisher.pid")" "$(cat "$d/redis/pid")" "$(cat "$d/kafka-1/pid")"
wait_for 20 "the killed parts to be gone" bash -c "! curl -fsS -m 1 -o /dev/null http://127.0.0.1:$SLUICE_PUBLISHER_PORT/healthz && ! redis-cli -p $rport ping" 2>/dev/null || true
# A zombie in the Redis pid file: its parent (this python) never reaps it.
python3 -c 'import os,time,sys
pid=os.fork()
if pid==0: os._exit(0)
print(pid, flush=True); time.sleep(600)' > "$SLUICE_STATE/it-$name.zombie" &
zpid=$!
wait_for 10 "the zombie" test -s "$SLUICE_STATE/it-$name.zombie"
z=$(cat "$SLUICE_STATE/it-$name.zombie")
wait_for 10 "the zombie" bash -c "grep -q ') Z ' /proc/$z/stat"
kill -0 "$z" || fail "kill -0 fails on the zombie: the test proves nothing"
echo "$z" > "$d/redis/pid"
rc=0; st || rc=$?
expect_eq "status exit 1 with parts dead" 1 "$rc"
for p in reducer-2 publisher redis-1 kafka-1; do expect_eq "$p reported dead" dead "$(line "$p")"; done
expect_eq "reducer-1 still up" up "$(line reducer-1)"
grep -q "^    | .*ev=" "$SLUICE_STATE/it-$name.status" || fail "no log tail in status: $(cat "$SLUICE_STATE/it-$name.status")"
pass "dead roles come with the tail of their log"

timeout 240 "$IT_ROOT/scripts/up.sh" > "$SLUICE_STATE/it-$name.up.log" 2>&1 || { cat "$SLUICE_STATE/it-$name.up.log"; fail "second up"; }
grep -q "started 2 role(s) that were not running; 4 left alone" "$SLUICE_STATE/it-$name.up.log" \
	|| fail "up did not restart exactly the dead roles: $(cat "$SLUICE_STATE/it-$name.up.log")"
grep -q "starting redis node 1" "$SLUICE_STATE/it-$name.up.log" || fail "redis not restarted (zombie taken for alive?)"
grep -q "starting kafka node 1" "$SLUICE_STATE/it-$name.up.log" || fail "kafka not restarted"
expect_eq "api kept its pid" "$pid_api" "$(cat "$SLUICE_RUN/api.pid")"
expect_eq "reducer-1 kept its pid" "$pid_r1" "$(cat "$SLUICE_RUN/reducer-1.pid")"
wait_for 90 "status exit 0 again" st || { cat "$SLUICE_STATE/it-$name.status"; fail "not everything up after the second up"; }
pass "one up restarts what died and only that"

rpid=$(cat "$d/redis/pid")
kill -STOP "$rpid"
rc=0; st || rc=$?
expect_eq "status exit 1 with Redis stopped" 1 "$rc"
expect_eq "a stopped Redis is hung" hung "$(line redis-1)"
out=$(SLUICE_STACK_DIR=$d SLUICE_REDIS_WAIT=3 timeout 60 "$IT_ROOT/scripts/stack.sh" up 2>&1 || true)
printf '%s\n' "$out" | grep -q "redis node 1 .* exists but does not answer: left alone" || fail "hung redis not left alone: $out"
expect_eq "no second redis started" "$rpid" "$(cat "$d/redis/pid")"
kill -CONT "$rpid"
wait_for 30 "status exit 0 after SIGCONT" st || { cat "$SLUICE_STATE/it-$name.status"; fail "not up after SIGCONT"; }
pass "a hung Redis is reported and left alone"

timeout 120 "$IT_ROOT/scripts/down.sh" >/dev/null 2>&1 || fail "down"
for f in "$SLUICE_RUN"/*.pid; do [ -f "$f" ] && fail "pid file left: $f"; done
redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && fail "redis still answers after down"
pass "down stops everything"
