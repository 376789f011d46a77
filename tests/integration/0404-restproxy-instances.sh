#!/usr/bin/env bash
# 0404-restproxy-instances: consumer instances at scale and over time.
# 300 instances are created at once (20 of them group members that read),
# a slow records read (8 s long poll) runs while other requests are answered
# in well under a second, then every instance is abandoned and the idle
# timeout closes them all (the gauge falls to 0, the expiry counter counts
# them); the process then stops on SIGTERM with exit 0 and no leak, which
# LeakSanitizer checks across the 300 closed librdkafka handles.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$IT_ROOT/tests/node/restproxy/lib.sh"
it_require_stack
trap rp_cleanup EXIT

N=300
t=$(unique rpinst)
ts=$(unique rpinst-empty)
rp_topic "$t" 1
rp_topic "$ts" 1
rp_start --consumer-idle-timeout-ms 6000 --max-consumers 1000
metric() { curl -fsS "$RP_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# ---- many instances at once ----
g=$(unique rpmany)
seq 1 $N | xargs -P 16 -I{} curl -sS -o /dev/null -w '%{http_code}\n' -X POST \
	-H 'Content-Type: application/vnd.kafka.v2+json' -d '{"name":"i{}"}' "$RP_URL/consumers/$g" > /tmp/rp-codes.$$
expect_eq "$N instances created" "$N x 200" "$(sort /tmp/rp-codes.$$ | uniq -c | awk '{print $1 " x " $2}')"
rm -f /tmp/rp-codes.$$
# Created, and none gone but by expiry (under ASan the first may already expire).
expect_eq "instances created" "$N" "$(metric sluice_restproxy_consumer_instances_created_total)"
expect_eq "instances open + expired" "$N" \
	"$(( $(metric sluice_restproxy_consumer_instances) + $(metric sluice_restproxy_consumer_instances_expired_total) ))"

# Twenty of them join groups of their own and read, so closing them leaves a group.
rp_call POST "/topics/$t" '{"records":[{"value":"aGk="}]}' application/vnd.kafka.binary.v2+json
for i in $(seq 1 20); do
	gi=$(unique rpmember)
	rp_call POST "/consumers/$gi" '{"name":"m","auto.offset.reset":"earliest"}'
	rp_call POST "/consumers/$gi/instances/m/subscription" "{\"topics\":[\"$t\"]}"
	expect_status "member $i subscribes" 204
done

# ---- a slow read does not hold up others ----
rp_call POST /consumers/"$g"-slow '{"name":"slow","auto.offset.reset":"latest"}'
rp_call POST /consumers/"$g"-slow/instances/slow/subscription "{\"topics\":[\"$ts\"]}"
start=$(date +%s%N)
curl -sS -o /tmp/rp-slow.$$ -H 'Accept: application/vnd.kafka.binary.v2+json' \
	"$RP_URL/consumers/$g-slow/instances/slow/records?timeout=8000" &
slow=$!
waiting() { [ "$(metric sluice_restproxy_reads_waiting)" = 1 ]; }
wait_for 10 "the slow read to be waiting" waiting || fail "the slow read is not waiting"
for path in /topics "/topics/$t" /brokers; do
	ms=$(curl -sS -o /dev/null -w '%{time_total}' "$RP_URL$path" | awk '{printf "%d", $1 * 1000}')
	[ "$ms" -lt 2000 ] || fail "GET $path took $ms ms while a read waits"
done
ms=$(curl -sS -o /dev/null -w '%{time_total}' -X POST -H 'Content-Type: application/vnd.kafka.json.v2+json' \
	-d '{"records":[{"value":1}]}' "$RP_URL/topics/$t" | awk '{printf "%d", $1 * 1000}')
[ "$ms" -lt 2000 ] || fail "produce took $ms ms while a read waits"
pass "metadata and produce answered in under 2 s (the long poll waits 8 s)"
wait "$slow"
took=$(( ($(date +%s%N) - start) / 1000000 ))
body=$(cat /tmp/rp-slow.$$); rm -f /tmp/rp-slow.$$
[ "$took" -ge 7500 ] || fail "the slow read on an empty topic came back after $took ms"
expect_eq "the slow read found nothing" "[]" "$body"
pass "the slow read answered after $took ms"

# ---- abandoned instances expire ----
total=$((N + 21))
expired_all() { [ "$(metric sluice_restproxy_consumer_instances)" = 0 ] && [ "$(metric sluice_restproxy_consumer_instances_expired_total)" = "$total" ]; }
wait_for 120 "every abandoned instance to expire" expired_all \
	|| fail "instances left: $(metric sluice_restproxy_consumer_instances), expired: $(metric sluice_restproxy_consumer_instances_expired_total)"
pass "all $total abandoned instances expired"
rp_call GET "/consumers/$g/instances/i1/records" "" "" application/vnd.kafka.binary.v2+json
expect_error "an expired instance is gone" 404 40403
expect_eq "expiry logged per instance" "$total" "$(grep -c 'ev=consumer_expired' "$RP_LOG")"
rp_stop
