-- restproxy.lua: wrk script of bench/restproxy.sh: every request is one
-- produce call (POST /topics/{RP_TOPIC}) carrying RP_BATCH binary records
-- of 102 bytes each, no key. Counts answers that are not 200 or carry a
-- per-record error, and prints both at the end so the benchmark can report
-- them next to the rate.
local batch = tonumber(os.getenv("RP_BATCH") or "100")
local topic = os.getenv("RP_TOPIC") or "bench"
local value = string.rep("A", 136) -- base64 of 102 zero bytes
local recs = {}
for i = 1, batch do recs[i] = '{"value":"' .. value .. '"}' end
wrk.method = "POST"
wrk.path = "/topics/" .. topic
wrk.body = '{"records":[' .. table.concat(recs, ",") .. ']}'
wrk.headers["Content-Type"] = "application/vnd.kafka.binary.v2+json"
wrk.headers["Accept"] = "application/vnd.kafka.v2+json"

local threads = {}
function setup(thread)
	table.insert(threads, thread)
end
function init(args)
	bad = 0
end
function response(status, headers, body)
	if status ~= 200 or string.find(body, '"error_code":5', 1, true) then
		bad = bad + 1
	end
end
function done(summary, latency, requests)
	local b = 0
	for _, t in ipairs(threads) do b = b + t:get("bad") end
	io.write(string.format("BAD %d\nP50_MS %.2f\nP99_MS %.2f\n", b, latency:percentile(50) / 1000,
		latency:percentile(99) / 1000))
end
