#!/usr/bin/env bash
# 0405-restproxy-max-bytes: a records read bounded by max_bytes returns at
# most that (key + value bytes) and keeps the rest for the next read: every
# record arrives exactly once, in order, and a commit without a body never
# moves past what a client received (a peer proxy drops fetched records
# beyond the bound while its offsets advance; this is the regression test).
# Then a read abandoned by its client loses nothing either.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$IT_ROOT/tests/node/restproxy/lib.sh"
it_require_stack
trap rp_cleanup EXIT

BIN2=application/vnd.kafka.binary.v2+json
t=$(unique rpmaxb)
rp_topic "$t" 1
rp_start
v100=$(head -c 100 /dev/zero | tr '\0' 'v' | base64 -w0)
recs=$(for i in $(seq 0 9); do printf '{"value":"%s"}' "$v100"; if [ "$i" -lt 9 ]; then printf ','; fi; done)
rp_call POST "/topics/$t" "{\"records\":[$recs]}" "$BIN2"
expect_eq "10 records of 100 bytes produced" "[0,1,2,3,4,5,6,7,8,9]" "$(jget '[.offsets[].offset]')"

g=$(unique rpmaxbg)
rp_call POST "/consumers/$g" '{"name":"c","auto.offset.reset":"earliest","auto.commit.enable":"false"}'
I=/consumers/$g/instances/c
rp_call POST "$I/subscription" "{\"topics\":[\"$t\"]}"

# Read with max_bytes=250: at most two 100-byte records per answer.
offsets=()
answers=0
for _ in $(seq 1 30); do
	rp_call GET "$I/records?timeout=2000&max_bytes=250" "" "" "$BIN2"
	expect_eq "records answer" 200 "$RP_STATUS" >/dev/null
	n=$(jget length)
	[ "$n" -le 2 ] || fail "max_bytes=250 returned $n records of 100 bytes: $RP_BODY"
	[ "$n" -gt 0 ] && answers=$((answers + 1))
	for o in $(jget '.[].offset' | tr '\n' ' '); do offsets+=("$o"); done
	if [ "${#offsets[@]}" = 4 ] && [ "${committed_at_4:-}" = "" ]; then
		# Two reads done, the fifth record may sit fetched in the proxy: commit now.
		rp_call POST "$I/offsets"
		rp_call GET "$I/offsets" "{\"partitions\":[{\"topic\":\"$t\",\"partition\":0}]}"
		committed_at_4=$(jget '.offsets[0].offset')
	fi
	[ "${#offsets[@]}" -ge 10 ] && break
done
expect_eq "every record once, in order" "0 1 2 3 4 5 6 7 8 9" "${offsets[*]}"
[ "$answers" -ge 5 ] || fail "only $answers answers for 10 records at 2 per answer"
pass "$answers answers of at most 250 bytes"
expect_eq "commit after 4 records commits offset 4, not past it" 4 "${committed_at_4:-unset}"
rp_call GET "$I/records?timeout=300&max_bytes=250" "" "" "$BIN2"
expect_eq "nothing more" "[]" "$RP_BODY"

# A read whose client goes away before data arrives loses nothing.
curl -sS -o /dev/null --max-time 1 -H "Accept: $BIN2" "$RP_URL$I/records?timeout=5000" || true
rp_call POST "/topics/$t" "{\"records\":[{\"value\":\"$(b64 after)\"}]}" "$BIN2"
got='[]'
for _ in $(seq 1 10); do
	rp_call GET "$I/records?timeout=1000" "" "" "$BIN2"
	got=$(jq -c --argjson m "$RP_BODY" '. + $m' <<<"$got")
	[ "$(jq length <<<"$got")" -ge 1 ] && break
done
expect_eq "the record after an abandoned read" "[{\"offset\":10,\"value\":\"$(b64 after)\"}]" "$(jq -c '[.[] | {offset, value}]' <<<"$got")"
rp_stop
