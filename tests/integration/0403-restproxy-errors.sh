#!/usr/bin/env bash
# 0403-restproxy-errors: every error the REST proxy answers, as a table:
# HTTP status and Confluent error_code for each bad request (unknown topic,
# partition, instance; wrong Accept or Content-Type; malformed JSON, bad
# base64, oversize bodies, bad shapes and values; conflicts; Kafka errors,
# retriable and not; limits), then proof that none of the bad produce
# requests wrote anything, and a clean SIGTERM.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$IT_ROOT/tests/node/restproxy/lib.sh"
it_require_stack
dead_pid=
cleanup() { rp_cleanup; [ -n "$dead_pid" ] && kill -9 "$dead_pid" 2>/dev/null || true; }
trap cleanup EXIT

BIN2=application/vnd.kafka.binary.v2+json
JSON2=application/vnd.kafka.json.v2+json
t=$(unique rperr)
t2=$(unique rperr-other)
rp_topic "$t" 1
rp_topic "$t2" 1
rp_start --max-body-bytes 4096 --max-consumers 3 -X kafka.message.max.bytes=1000

# ---- not found ----
rp_call GET /topics/no-such-topic;                 expect_error "GET unknown topic" 404 40401
rp_call POST /topics/no-such-topic '{"records":[{"value":"eA=="}]}' "$BIN2"
expect_error "produce to an unknown topic" 404 40401
rp_call POST /topics/bad%20name '{"records":[{"value":"eA=="}]}' "$BIN2"
expect_error "produce to an invalid topic name" 404 40401
rp_call GET "/topics/$t/partitions/9";             expect_error "GET unknown partition" 404 40402
rp_call POST "/topics/$t/partitions/9" '{"records":[{"value":"eA=="}]}' "$BIN2"
expect_error "produce to an unknown partition (URL)" 404 40402
rp_call POST "/topics/$t" '{"records":[{"value":"eA=="},{"value":"eA==","partition":5}]}' "$BIN2"
expect_error "produce to an unknown partition (record)" 404 40402
rp_call GET /consumers/g/instances/nobody/records "" "" "$BIN2"
expect_error "read from an unknown instance" 404 40403
rp_call DELETE /consumers/g/instances/nobody;      expect_error "delete an unknown instance" 404 40403
rp_call GET /no/such/route;                        expect_error "unknown route" 404 404
rp_call GET "/topics/$t/partitions/x";             expect_error "partition not a number" 404 40402
rp_call PUT "/topics/$t" '{}';                     expect_error "wrong method" 405 405
rp_call DELETE /topics;                            expect_error "wrong method on /topics" 405 405

# ---- content types ----
rp_call GET /topics "" "" "text/html";             expect_error "Accept nothing we serve" 406 40602
rp_call POST "/topics/$t" '{"records":[{"value":"eA=="}]}' "text/plain"
expect_error "Content-Type text/plain" 415 415
rp_call POST "/topics/$t" '{"records":[{"value":"eA=="}]}' "application/vnd.kafka.avro.v2+json"
expect_error "Content-Type avro (no schema registry)" 415 415
rp_call POST "/topics/$t" '{"records":[{"value":"eA=="}]}' "application/vnd.kafka.binary.v9+json"
expect_error "Content-Type of an unknown API version" 415 415

# ---- bad payloads ----
rp_call POST "/topics/$t" '{"records":[{"value":"eA=="}' "$BIN2"; expect_error "malformed JSON" 400 400
rp_call POST "/topics/$t" '{"records":[]}' "$BIN2";              expect_error "no records" 422 42201
rp_call POST "/topics/$t" '{"recs":[{"value":"eA=="}]}' "$BIN2";  expect_error "records missing" 422 42201
rp_call POST "/topics/$t" '{"records":["eA=="]}' "$BIN2";         expect_error "record not an object" 422 42202
rp_call POST "/topics/$t" '{"records":[{"value":12}]}' "$BIN2";   expect_error "binary value not a string" 422 42202
rp_call POST "/topics/$t" '{"records":[{"value":"e A=="}]}' "$BIN2"; expect_error "bad base64 value" 422 42203
rp_call POST "/topics/$t" '{"records":[{"key":"###","value":"eA=="}]}' "$BIN2"; expect_error "bad base64 key" 422 42203
rp_call POST "/topics/$t" '{"records":[{"value":"eA==","partition":-2}]}' "$BIN2"
expect_error "negative partition" 422 42205
rp_call POST "/topics/$t/partitions/0" '{"records":[{"value":1,"partition":1}]}' "$JSON2"
expect_error "record partition differs from the URL" 422 42205
rp_call POST "/topics/$t" '[{"value":"eA=="}]' "$BIN2";          expect_error "body not an object" 422 42208
big=$(head -c 6000 /dev/zero | tr '\0' 'A')
rp_call POST "/topics/$t" "{\"records\":[{\"value\":\"$big\"}]}" "$BIN2"
expect_error "body over --max-body-bytes" 413 413

# ---- consumers ----
g=$(unique rperrg)
rp_call POST "/consumers/$g" '{"format":"avro"}';                 expect_error "consumer format avro" 422 42204
rp_call POST "/consumers/$g" '{"auto.offset.reset":"first"}';     expect_error "bad auto.offset.reset" 422 42204
rp_call POST "/consumers/$g" '{"name":"has space"}';              expect_error "bad instance name" 422 42204
rp_call POST "/consumers/$g" '{"name":"a",' ;                     expect_error "malformed consumer JSON" 400 400
rp_call POST "/consumers/$g" '{"name":"a","auto.offset.reset":"earliest"}'; expect_status "create a" 200
rp_call POST "/consumers/$g" '{"name":"a"}';                      expect_error "same name twice" 409 40902
I=/consumers/$g/instances/a
rp_call GET "$I/records" "" "" "$BIN2";                            expect_error "read before subscribing" 409 40903
rp_call POST "$I/subscription" '{"topics":[]}';                   expect_error "empty topic list" 422 42206
rp_call POST "$I/subscription" '{"topic_pattern":"("}';           expect_error "bad pattern" 422 42206
rp_call POST "$I/subscription" '{"topics":["a"],"topic_pattern":"b"}'; expect_error "topics and pattern" 422 42206
# Patterns are compiled on the loop: bounded in length, no {m,n} intervals.
rp_call POST "$I/subscription" "{\"topic_pattern\":\"$(printf 'a%.0s' $(seq 1 300))\"}"
expect_error "pattern over 255 characters" 422 42206
rp_call POST "$I/subscription" '{"topic_pattern":"((a{1,255}){1,255}){1,255}"}'; expect_error "pattern with intervals" 422 42206
rp_call POST "$I/subscription" '{"topic_pattern":"((((((((((((t+)+)+)+)+)+)+)+)+)+)+)+)+"}'; expect_error "pattern with twelve nested +" 422 42206
rp_call POST "$I/offsets" "{\"offsets\":[{\"topic\":\"$t\",\"partition\":0,\"offset\":9223372036854775807}]}"
expect_error "commit of offset INT64_MAX (its next would overflow)" 422 42205
rp_call POST "$I/positions" "{\"offsets\":[{\"topic\":\"$t\",\"partition\":0,\"offset\":-1}]}"
expect_error "negative offset" 422 42205
rp_call POST "$I/positions" "{\"offsets\":[{\"topic\":\"$t\",\"partition\":0,\"offset\":1}]}"
expect_error "seek on a partition not assigned" 409 40903
rp_call POST "$I/subscription" "{\"topics\":[\"$t\"]}";          expect_status "subscribe" 204
rp_call GET "$I/records?timeout=abc" "" "" "$BIN2";              expect_error "bad timeout" 422 42207
rp_call GET "$I/records?max_bytes=-5" "" "" "$BIN2";             expect_error "bad max_bytes" 422 42207
rp_call GET "$I/records" "" "" "$JSON2";                          expect_error "json Accept on a binary instance" 406 40601
rp_call GET "$I/records" "" "" "text/csv";                        expect_error "Accept nothing for records" 406 40602
rp_call POST "$I/assignments" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":0}]}"
expect_error "assign while subscribed" 409 40903
rp_call GET "$I/offsets" '{"partitions":7}';                      expect_error "bad offsets query body" 422 42206
rp_call POST "$I/records" '{}';                                   expect_error "POST records" 405 405

rp_call POST "/consumers/$g" '{"name":"v1","auto.offset.reset":"smallest"}' application/vnd.kafka.v1+json
V=/consumers/$g/instances/v1
rp_call GET "$V/topics/no-such-topic-$$?max_bytes=100" "" "" application/vnd.kafka.binary.v1+json
expect_error "v1 read of an unknown topic" 404 40401
rp_call POST "/consumers/$g" '{"name":"v1b","auto.offset.reset":"smallest"}' application/vnd.kafka.v1+json
rp_call GET "/consumers/$g/instances/v1b/topics/$t?timeout=100" "" "" application/vnd.kafka.binary.v1+json
expect_status "v1 read of a topic" 200
rp_call GET "/consumers/$g/instances/v1b/topics/$t2" "" "" application/vnd.kafka.binary.v1+json
expect_error "v1 read of a second topic" 409 40901
rp_call POST "/consumers/$g" '{}';                                 expect_error "over --max-consumers" 503 50301

# ---- Kafka errors ----
rp_call POST "/topics/$t" "{\"records\":[{\"value\":\"$(head -c 1500 /dev/zero | base64 -w0)\"}]}" "$BIN2"
expect_eq "record over message.max.bytes: per-record 50002" '200 [{"partition":null,"offset":null,"error_code":50002}]' \
	"$RP_STATUS $(jget '[.offsets[] | {partition, offset, error_code}]')"
# Nothing of the bad produce requests reached Kafka.
n=$(timeout 20 kcat -b "$SLUICE_KAFKA_BROKERS" -C -t "$t" -o beginning -e -q -f 'x\n' | grep -c x || true)
expect_eq "bad requests wrote nothing" 0 "$n"
rp_stop

# Bad settings: one line naming the problem, exit 2, nothing started.
for bad in "--consumer-property no.such.property=1" "--producer-property acks" "--port 70000" \
	"--consumer-idle-timeout-ms x"; do
	rc=0
	out=$(timeout 20 "$SLUICE_BIN" rest-proxy $bad 2>&1) || rc=$?
	[ "$rc" = 2 ] && [ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] || fail "rest-proxy $bad: exit $rc, output: $out"
	pass "rest-proxy $bad: exit 2, one line"
done

# A proxy whose broker is gone: not ready, and Kafka calls fail as retriable.
dead=$(free_port)
port=$(free_port)
"$SLUICE_BIN" rest-proxy --port "$port" --listen-host 127.0.0.1 --bootstrap-server "127.0.0.1:$dead" \
	--kafka-timeout-ms 1000 > "$RP_LOG_DIR/restproxy-dead-$$.log" 2>&1 &
dead_pid=$!
wait_for 20 "the proxy to listen" curl -s -o /dev/null "http://127.0.0.1:$port/healthz" || fail "no listener"
RP_URL=http://127.0.0.1:$port
rp_call GET /readyz
expect_eq "/readyz without Kafka" 503 "$RP_STATUS"
rp_call GET /topics;                                               expect_error "metadata without Kafka" 503 50003
rp_call POST "/topics/$t" '{"records":[{"value":"eA=="}]}' "$BIN2"; expect_error "produce without Kafka" 503 50003
kill -TERM "$dead_pid"
rc=0; wait "$dead_pid" || rc=$?
dead_pid=
expect_eq "the broker-less proxy exits 0 on SIGTERM" 0 "$rc"
