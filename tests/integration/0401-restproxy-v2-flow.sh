#!/usr/bin/env bash
# 0401-restproxy-v2-flow: the Confluent v2 API end to end against the real
# broker: metadata, produce binary and json (keys, null keys, partitions),
# what kcat, Kafka's own console consumer and `sluice consume` read back,
# records from `sluice produce` read through the proxy, a consumer instance
# that subscribes, reads (exact records), commits, seeks (offset, beginning,
# end) and is deleted, a json-format instance with a manual assignment
# reading records that kcat produced, a topic_pattern subscription, and a
# clean SIGTERM with no leak.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$IT_ROOT/tests/node/restproxy/lib.sh"
it_require_stack
trap rp_cleanup EXIT

BIN2=application/vnd.kafka.binary.v2+json
JSON2=application/vnd.kafka.json.v2+json
t=$(unique rpflow)
rp_topic "$t" 2
rp_start

# ---- metadata ----
rp_call GET /topics
printf '%s' "$RP_BODY" | jq -e --arg t "$t" 'index($t) != null' >/dev/null || fail "GET /topics lacks $t: $RP_BODY"
expect_eq "GET /topics content type" "application/vnd.kafka.v2+json" "$RP_CTYPE"
rp_call GET "/topics/$t"
expect_eq "GET /topics/{t}" "\"$t\" 2 [0,1]" "$(jget .name) $(jget '.partitions|length') $(jget '[.partitions[].partition]')"
printf '%s' "$RP_BODY" | jq -e '.configs["cleanup.policy"] == "delete"' >/dev/null || fail "topic configs missing: $RP_BODY"
rp_call GET "/topics/$t/partitions"
expect_eq "GET partitions" '[{"partition":0,"leader":1,"replicas":[{"broker":1,"leader":true,"in_sync":true}]},{"partition":1,"leader":1,"replicas":[{"broker":1,"leader":true,"in_sync":true}]}]' "$RP_BODY"
rp_call GET "/topics/$t/partitions/1"
expect_eq "GET partition 1" '{"partition":1,"leader":1,"replicas":[{"broker":1,"leader":true,"in_sync":true}]}' "$RP_BODY"
rp_call GET /brokers
expect_eq "GET /brokers" '{"brokers":[1]}' "$RP_BODY"
rp_call GET /topics "" "" "application/vnd.kafka.v1+json, application/json; q=0.5"
expect_eq "Accept picks v1" "application/vnd.kafka.v1+json" "$RP_CTYPE"

# ---- produce ----
rp_call POST "/topics/$t" "{\"records\":[{\"key\":\"$(b64 k1)\",\"value\":\"$(b64 v1)\",\"partition\":0},{\"key\":null,\"value\":\"$(b64 v2)\",\"partition\":1}]}" "$BIN2"
expect_eq "produce binary" '[{"partition":0,"offset":0,"error_code":null,"error":null},{"partition":1,"offset":0,"error_code":null,"error":null}]' "$(jget .offsets)"
expect_eq "produce answer has no schema ids" "null null" "$(jget .key_schema_id) $(jget .value_schema_id)"
rp_call POST "/topics/$t/partitions/1" '{"records":[{"value":{"n":1,"s":"x"}}]}' "$JSON2"
expect_eq "produce json to a partition" '[{"partition":1,"offset":1,"error_code":null,"error":null}]' "$(jget .offsets)"
rp_call POST "/topics/$t" '{"records":[{"key":"k2","value":[1,2.5,"z"],"partition":0}]}' "$JSON2"
expect_eq "produce json with key" '[{"partition":0,"offset":1,"error_code":null,"error":null}]' "$(jget .offsets)"
printf 'ka:from-kcat\n' | timeout 30 kcat -b "$SLUICE_KAFKA_BROKERS" -P -t "$t" -p 1 -K: || fail "kcat produce"

# ---- what others read back ----
got=$(timeout 30 kcat -b "$SLUICE_KAFKA_BROKERS" -C -t "$t" -o beginning -e -q -f '%p:%o:%k:%s\n' | LC_ALL=C sort)
expect_eq "kcat reads what the proxy produced" "0:0:k1:v1
0:1:\"k2\":[1,2.5,\"z\"]
1:0::v2
1:1::{\"n\":1,\"s\":\"x\"}
1:2:ka:from-kcat" "$got"
got=$(timeout 60 java -Dlog4j.configuration="file:$KAFKA_LIBS/log4j.properties" -cp "$KAFKA_LIBS/*" \
	org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$SLUICE_KAFKA_BROKERS" --topic "$t" \
	--from-beginning --max-messages 5 --property print.key=true --property key.separator=: 2>/dev/null | LC_ALL=C sort)
expect_eq "Kafka's console consumer reads the same" "\"k2\":[1,2.5,\"z\"]
k1:v1
ka:from-kcat
null:v2
null:{\"n\":1,\"s\":\"x\"}" "$got"

got=$(timeout 60 "$SLUICE_BIN" consume --bootstrap-server "$SLUICE_KAFKA_BROKERS" --topic "$t" --from-beginning \
	--max-messages 5 --property print.key=true --property key.separator=: --property null.literal=null 2>/dev/null \
	| LC_ALL=C sort)
expect_eq "sluice consume reads the same" "\"k2\":[1,2.5,\"z\"]
k1:v1
ka:from-kcat
null:v2
null:{\"n\":1,\"s\":\"x\"}" "$got"

# ---- a binary consumer instance ----
g=$(unique rpgroup)
rp_call POST "/consumers/$g" '{"name":"c1","format":"binary","auto.offset.reset":"earliest","auto.commit.enable":"false"}'
expect_eq "create instance" "{\"instance_id\":\"c1\",\"base_uri\":\"http://127.0.0.1:$RP_PORT/consumers/$g/instances/c1\"}" "$RP_BODY"
I=/consumers/$g/instances/c1
rp_call POST "$I/subscription" "{\"topics\":[\"$t\"]}"
expect_status "subscribe" 204
rp_call GET "$I/subscription"
expect_eq "subscription" "{\"topics\":[\"$t\"]}" "$RP_BODY"

# read_all PATH N ACCEPT: read until N records arrived (bounded), sorted by partition, offset.
read_all() {
	local path=$1 n=$2 accept=$3 acc='[]' i
	for i in $(seq 1 20); do
		rp_call GET "$path" "" "" "$accept"
		[ "$RP_STATUS" = 200 ] || fail "read $path: $RP_STATUS $RP_BODY"
		acc=$(jq -c --argjson more "$RP_BODY" '. + $more' <<<"$acc")
		[ "$(jq length <<<"$acc")" -ge "$n" ] && break
	done
	jq -c 'sort_by(.partition, .offset)' <<<"$acc"
}
got=$(read_all "$I/records?timeout=2000" 5 "$BIN2")
expect_eq "records read (binary)" "[{\"topic\":\"$t\",\"key\":\"$(b64 k1)\",\"value\":\"$(b64 v1)\",\"partition\":0,\"offset\":0},{\"topic\":\"$t\",\"key\":\"$(b64 '"k2"')\",\"value\":\"$(b64 '[1,2.5,"z"]')\",\"partition\":0,\"offset\":1},{\"topic\":\"$t\",\"key\":null,\"value\":\"$(b64 v2)\",\"partition\":1,\"offset\":0},{\"topic\":\"$t\",\"key\":null,\"value\":\"$(b64 '{"n":1,"s":"x"}')\",\"partition\":1,\"offset\":1},{\"topic\":\"$t\",\"key\":\"$(b64 ka)\",\"value\":\"$(b64 from-kcat)\",\"partition\":1,\"offset\":2}]" "$got"
rp_call GET "$I/records?timeout=0" "" "" "$BIN2"
expect_eq "records content type" "$BIN2 []" "$RP_CTYPE $RP_BODY"
rp_call GET "$I/assignments"
expect_eq "assignments" "[\"$t:0\",\"$t:1\"]" "$(jget '[.partitions[] | "\(.topic):\(.partition)"] | sort')"

rp_call POST "$I/offsets"
expect_status "commit what was read (no body)" 200
rp_call GET "$I/offsets" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":0},{\"topic\":\"$t\",\"partition\":1}]}"
expect_eq "committed offsets" "[2,3]" "$(jget '[.offsets[].offset]')"
rp_call POST "$I/offsets" "{\"offsets\":[{\"topic\":\"$t\",\"partition\":0,\"offset\":0}]}"
expect_status "commit with a body" 200
rp_call GET "$I/offsets" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":0}]}"
expect_eq "commit of offset 0 stores 1 (the next to read)" '[{"partition":0,"offset":1}]' "$(jget '[.offsets[] | {partition, offset}]')"

rp_call POST "$I/positions" "{\"offsets\":[{\"topic\":\"$t\",\"partition\":0,\"offset\":1}]}"
expect_status "seek to an offset" 204
got=$(read_all "$I/records?timeout=1000" 1 "$BIN2")
expect_eq "read after the seek" "[\"0:1\"]" "$(jq -c '[.[] | "\(.partition):\(.offset)"]' <<<"$got")"
rp_call POST "$I/positions/beginning" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":1}]}"
expect_status "seek to the beginning" 204
got=$(read_all "$I/records?timeout=1000" 3 "$BIN2")
expect_eq "read after seek to beginning" '["1:0","1:1","1:2"]' "$(jq -c '[.[] | "\(.partition):\(.offset)"]' <<<"$got")"
rp_call POST "$I/positions/end" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":0},{\"topic\":\"$t\",\"partition\":1}]}"
expect_status "seek to the end" 204
rp_call GET "$I/records?timeout=300" "" "" "$BIN2"
expect_eq "nothing after the end" "[]" "$RP_BODY"
rp_call GET "$I/records?timeout=300" "" "" "$JSON2"
expect_error "json Accept on a binary instance" 406 40601

rp_call DELETE "$I"
expect_status "delete the instance" 204
rp_call GET "$I/records" "" "" "$BIN2"
expect_error "read from a deleted instance" 404 40403

# ---- a json instance with a manual assignment ----
rp_call POST "/consumers/$g" '{"name":"cj","format":"json","auto.offset.reset":"earliest"}'
J=/consumers/$g/instances/cj
rp_call POST "$J/subscription" "{\"topics\":[\"$t\"]}"
rp_call POST "$J/assignments" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":1}]}"
expect_error "assign while subscribed" 409 40903
rp_call DELETE "$J/subscription"
expect_status "unsubscribe" 204
rp_call POST "$J/assignments" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":1}]}"
expect_status "assign partition 1" 204
rp_call POST "$J/positions/beginning" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":1}]}"
got=$(read_all "$J/records?timeout=2000" 3 "$JSON2")
expect_eq "records read (json)" '[{"k":null,"v":"v2","p":1,"o":0},{"k":null,"v":{"n":1,"s":"x"},"p":1,"o":1},{"k":"ka","v":"from-kcat","p":1,"o":2}]' \
	"$(jq -c '[.[] | {k: .key, v: .value, p: .partition, o: .offset}]' <<<"$got")"
rp_call GET "$J/records?timeout=0" "" "" "$JSON2"
expect_eq "json records content type" "$JSON2 []" "$RP_CTYPE $RP_BODY"
rp_call DELETE "$J"
expect_status "delete the json instance" 204

# ---- topic_pattern ----
g=$(unique rpgroup-pattern) # a new group: the first one has committed offsets
rp_call POST "/consumers/$g" '{"name":"cp","auto.offset.reset":"earliest"}'
rp_call POST "/consumers/$g/instances/cp/subscription" "{\"topic_pattern\":\"${t%-*}-[0-9]+\"}"
expect_status "subscribe to a pattern" 204
got=$(read_all "/consumers/$g/instances/cp/records?timeout=2000" 5 "$BIN2")
expect_eq "pattern subscription reads the topic" 5 "$(jq length <<<"$got")"
rp_call GET "/consumers/$g/instances/cp/subscription"
expect_eq "pattern subscription shows the pattern" "{\"topics\":[\"${t%-*}-[0-9]+\"]}" "$RP_BODY"

# ---- records from `sluice produce`, read through the proxy ----
t3=$(unique rpflow-tools)
rp_topic "$t3" 1
printf 'p1:one\np2:two\n' | timeout 60 "$SLUICE_BIN" produce --bootstrap-server "$SLUICE_KAFKA_BROKERS" --topic "$t3" \
	--property parse.key=true --property key.separator=: 2>/dev/null || fail "sluice produce"
g=$(unique rpgroup-tools)
rp_call POST "/consumers/$g" '{"name":"ct","auto.offset.reset":"earliest"}'
rp_call POST "/consumers/$g/instances/ct/subscription" "{\"topics\":[\"$t3\"]}"
got=$(read_all "/consumers/$g/instances/ct/records?timeout=2000" 2 "$BIN2")
expect_eq "the proxy reads what sluice produce wrote" "[\"$(b64 p1)=$(b64 one)\",\"$(b64 p2)=$(b64 two)\"]" \
	"$(jq -c '[.[] | "\(.key)=\(.value)"]' <<<"$got")"

# The pattern instance is left open: shutdown must close it cleanly.
rp_stop
