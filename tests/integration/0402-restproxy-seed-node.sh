#!/usr/bin/env bash
# 0402-restproxy-seed-node: the seed's producer and consumer scripts, run
# with Node.js and the real npm kafka-rest 0.0.5 (API v1) against
# `sluice rest-proxy`. The scripts are the seed's text byte for byte
# (tests/node/restproxy/seed-*.js); the test only points them at its own
# port, topic and group (sed on a copy), since the seed hard-codes
# localhost:8082, random_walk and consumer-group.
#  - producer: chunked v1 binary POSTs with null key/partition, one a
#    second; kcat checks the records (null keys, a random walk of 4-decimal
#    steps of at most 0.75).
#  - the v1 read of those records over the wire: content type as asked,
#    "key":null, base64 values.
#  - consumer on keyed records (kcat -K): prints exactly "key : value".
#  - consumer on the producer's null-keyed records: the seed's own bug shows,
#    `msgs[i].key.toString` on a null key throws, as it would against
#    Confluent's proxy (kafka-rest decodes a null key as null).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$IT_ROOT/tests/node/restproxy/lib.sh"
it_require_stack
nm=$IT_ROOT/.state/node/restproxy/node_modules
# A missing dependency fails the run (STYLE section 9: nothing skips).
command -v node >/dev/null || fail "node is missing (scripts/install-deps.sh installs it)"
[ -f "$nm/kafka-rest/package.json" ] ||
	fail "kafka-rest 0.0.5 is missing from $nm (scripts/install.d/restproxy.sh installs it)"
pids=()
work=$(mktemp -d)
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rp_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

topic=$(unique random_walk)
keyed=$(unique random_walk_keyed)
group=$(unique consumer-group)
rp_topic "$topic" 1
rp_topic "$keyed" 1
rp_start

adapt() { # SRC DEST TOPIC GROUP
	sed -e "s#http://localhost:8082#$RP_URL#" -e "s#random_walk#$3#g" -e "s#consumer-group#$4#g" "$1" > "$2"
}
adapt "$IT_ROOT/tests/node/restproxy/seed-producer.js" "$work/producer.js" "$topic" "$group"
adapt "$IT_ROOT/tests/node/restproxy/seed-consumer.js" "$work/consumer.js" "$keyed" "$group"
adapt "$IT_ROOT/tests/node/restproxy/seed-consumer.js" "$work/consumer-nullkey.js" "$topic" "$group-2"
grep -q "target.produce" "$work/producer.js" || fail "the seed producer script is missing"

# ---- the seed producer ----
NODE_PATH=$nm node "$work/producer.js" > "$work/producer.out" 2>&1 &
pids+=($!)
count() { timeout 10 kcat -b "$SLUICE_KAFKA_BROKERS" -C -t "$topic" -o beginning -e -q -f '%K %s\n' 2>/dev/null | grep -c . || true; }
have3() { [ "$(count)" -ge 3 ]; }
wait_for 30 "3 records from the seed producer" have3 || { cat "$work/producer.out"; fail "seed producer produced too little"; }
kill "${pids[0]}"
lines=$(timeout 10 kcat -b "$SLUICE_KAFKA_BROKERS" -C -t "$topic" -o beginning -e -q -f '%K %s\n')
printf '%s\n' "$lines" | awk '
	$1 != -1 { print "record with a key: " $0; bad = 1 }
	$2 !~ /^-?[0-9]+\.[0-9][0-9][0-9][0-9]$/ { print "not a 4-decimal number: " $2; bad = 1 }
	{ d = $2 - prev; if (d < 0) d = -d; if (d > 0.7501) { print "step too big: " prev " -> " $2; bad = 1 }; prev = $2 }
	END { exit bad }' || fail "seed producer records: $lines"
pass "seed producer: $(printf '%s\n' "$lines" | grep -c .) records, null keys, a random walk with 4 decimals"

# ---- the v1 read on the wire ----
rp_call POST "/consumers/$group-wire" '{"auto.offset.reset":"smallest"}' application/vnd.kafka.v1+json \
	"application/vnd.kafka.v1+json, application/vnd.kafka+json; q=0.9, application/json; q=0.8"
expect_eq "v1 join answers in v1" "200 application/vnd.kafka.v1+json" "$RP_STATUS $RP_CTYPE"
base=$(printf '%s' "$RP_BODY" | jq -r .base_uri)
path=${base#"$RP_URL"}/topics/$topic
got='[]'
for _ in $(seq 1 10); do
	rp_call GET "$path" "" "" application/vnd.kafka.binary.v1+json
	[ "$RP_STATUS" = 200 ] || fail "v1 read: $RP_STATUS $RP_BODY"
	got=$(jq -c --argjson m "$RP_BODY" '. + $m' <<<"$got")
	[ "$(jq length <<<"$got")" -ge 3 ] && break
done
expect_eq "v1 read content type" application/vnd.kafka.binary.v1+json "$RP_CTYPE"
expect_eq "v1 records: null keys, no topic field (v1 shape)" '[["key","offset","partition","value"],[null]]' \
	"$(jq -c '[(.[0] | keys), ([.[].key] | unique)]' <<<"$got")"
expect_eq "v1 values are the produced ones" "$(printf '%s\n' "$lines" | head -3 | cut -d' ' -f2 | tr '\n' ' ')" \
	"$(jq -r '.[0:3][] | .value | @base64d' <<<"$got" | tr '\n' ' ')"
rp_call POST "${base#"$RP_URL"}/offsets" "" "" application/vnd.kafka.v1+json
expect_eq "v1 commit with an empty body" "200 [0]" "$RP_STATUS $(jget '[.[].partition] | unique')"
rp_call DELETE "${base#"$RP_URL"}"
expect_status "v1 delete" 204

# ---- the seed consumer on keyed records ----
printf 'm-1:1.0000\nm-2:2.5000\nm-3:-0.2500\n' | timeout 30 kcat -b "$SLUICE_KAFKA_BROKERS" -P -t "$keyed" -K: \
	|| fail "kcat produce"
NODE_PATH=$nm node "$work/consumer.js" > "$work/consumer.out" 2>&1 &
pids+=($!)
printed() { [ "$(grep -c ' : ' "$work/consumer.out")" -ge 3 ]; }
wait_for 30 "the seed consumer to print 3 records" printed || { cat "$work/consumer.out"; fail "seed consumer printed too little"; }
kill "${pids[1]}"
sed -n '1p' "$work/consumer.out" | grep -qE "^Consumer instance initialized: ConsumerInstance\{group=$group, id=rest-consumer-[0-9a-f]{16}, uri=$RP_URL/consumers/$group/instances/rest-consumer-[0-9a-f]{16}\}$" \
	|| fail "seed consumer first line: $(head -1 "$work/consumer.out")"
expect_eq "seed consumer prints key : value" "m-1 : 1.0000
m-2 : 2.5000
m-3 : -0.2500" "$(grep ' : ' "$work/consumer.out")"

# ---- the seed consumer on null keys: its own bug, as with Confluent's proxy ----
rc=0
NODE_PATH=$nm timeout 30 node "$work/consumer-nullkey.js" > "$work/nullkey.out" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "seed consumer on null keys: expected the TypeError exit, got $rc"
grep -q "Cannot read properties of null (reading 'toString')" "$work/nullkey.out" \
	|| fail "seed consumer on null keys: $(cat "$work/nullkey.out")"
pass "seed consumer on null keys: kafka-rest decodes the key as null and the seed's key.toString throws"

# The seed never deletes its instances: shutdown closes the abandoned ones.
rp_stop
