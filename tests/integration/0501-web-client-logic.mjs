/* 0501-web-client-logic: the pure logic of the JavaScript client and of the
 * dashboard's metrics panel, under Node.js, with no server: offset dedup,
 * snapshot/update application, backoff with jitter, SSE parsing, message
 * validation (each bad input a row), Prometheus text parsing and rates, and
 * the whole subscribe/reconnect flow of SluiceClient driven through an
 * injected fetch that plays the API and an SSE publisher in memory.
 * The same client against the real system is 0502; in a browser, 0503.
 * Run alone: node tests/integration/0501-web-client-logic.mjs
 */
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {
	MarketBook, SluiceClient, SluiceError, SseParser, backoffDelay, checkMarketIds, jwtExp, parseMessage,
	toWebSocketUrl,
} from '../../web/sluice-client.mjs';
import {PromParseError, byLabel, histogramQuantile, parsePrometheus, rate, sum} from '../../web/prom.mjs';
import {priceOf} from '../../web/board.mjs';
import {discoverMarkets, parseSelection} from '../../web/markets.mjs';
import {roleKind, summarize} from '../../web/system.mjs';

const rec = (market, offset, value = offset / 10, partition = 3) => ({market, value, offset, partition, ts: 1700000000000 + offset});

test('MarketBook keeps a record only when its offset is newer', () => {
	const b = new MarketBook(['m-0001', 'm-0002']);
	assert.deepEqual(b.apply(rec('m-0001', 10)), rec('m-0001', 10));
	assert.equal(b.apply(rec('m-0001', 10, 99)), null, 'same offset is dropped');
	assert.equal(b.apply(rec('m-0001', 9, 99)), null, 'older offset is dropped');
	assert.equal(b.get('m-0001').value, 1);
	assert.ok(b.apply(rec('m-0001', 11)));
	assert.equal(b.get('m-0001').offset, 11);
	assert.equal(b.apply(rec('m-0003', 50)), null, 'a market not wanted is dropped');
	assert.equal(b.get('m-0003'), undefined);
});

test('MarketBook: a snapshot after newer updates changes nothing, removal forgets', () => {
	const b = new MarketBook(['m-0001', 'm-0002']);
	b.apply(rec('m-0001', 20));
	const snap = [rec('m-0001', 15), rec('m-0002', 7)];
	const applied = snap.map((r) => b.apply(r)).filter(Boolean);
	assert.deepEqual(applied.map((r) => r.market), ['m-0002']);
	assert.equal(b.get('m-0001').offset, 20);
	b.unwant(['m-0001']);
	assert.equal(b.get('m-0001'), undefined);
	assert.equal(b.apply(rec('m-0001', 21)), null, 'late update after removal does not resurrect');
	b.want(['m-0001']);
	assert.ok(b.apply(rec('m-0001', 5)), 'a re-added market starts fresh');
});

test('backoffDelay grows by the factor, is capped and jittered', () => {
	const o = {initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5};
	assert.equal(backoffDelay(0, o, () => 0), 50);
	assert.equal(backoffDelay(0, o, () => 1), 100);
	assert.equal(backoffDelay(1, o, () => 1), 200);
	assert.equal(backoffDelay(3, o, () => 1), 800);
	assert.equal(backoffDelay(4, o, () => 1), 1000, 'capped at maxMs');
	assert.equal(backoffDelay(400, o, () => 1), 1000, 'huge attempts stay capped');
	assert.equal(backoffDelay(-3, o, () => 1), 100, 'negative attempt counts as 0');
	assert.equal(backoffDelay(2, {...o, jitter: 0}, () => 0.7), 400, 'no jitter: exact');
	for (let i = 0; i < 200; i++) {
		const d = backoffDelay(2, o);
		assert.ok(d >= 200 && d <= 400, `jittered delay ${d} within [200, 400]`);
	}
	assert.equal(backoffDelay(0, {}, () => 1), 250, 'default initial delay');
});

test('SseParser: events split anywhere, CRLF, comments, multi-line data', () => {
	const p = new SseParser();
	const stream = ': hello\r\ndata: {"type":"subscribed"}\r\n\r\ndata:{"a":1}\n\nevent: x\nid: 4\ndata: l1\ndata: l2\n\n';
	const got = [];
	for (let i = 0; i < stream.length; i += 3)
		got.push(...p.push(stream.slice(i, i + 3)));
	assert.deepEqual(got, ['{"type":"subscribed"}', '{"a":1}', 'l1\nl2']);
	const q = new SseParser();
	assert.deepEqual(q.push('data: x\r'), [], 'lone CR at the end waits');
	assert.deepEqual(q.push('\n\r\n'), ['x']);
	assert.deepEqual(q.push('retry: 10\n\n'), [], 'an event without data dispatches nothing');
	assert.deepEqual(q.push('data\n\n'), [''], 'bare data field is an empty line');
});

test('parseMessage accepts the protocol messages', () => {
	assert.deepEqual(parseMessage('{"type":"subscribed","channel":"c"}'), {type: 'subscribed', channel: 'c'});
	const u = parseMessage('{"type":"update","market":"m-0001","value":{"price":1.5},"offset":124,"partition":4,"ts":5}');
	assert.equal(u.offset, 124);
	assert.equal(parseMessage('{"type":"snapshot","markets":[]}').markets.length, 0);
	assert.equal(parseMessage('{"type":"future-thing"}').type, 'future-thing');
});

for (const [why, text] of [
	['not JSON', '{"type":'],
	['not an object', '[1,2]'],
	['null', 'null'],
	['no type', '{"market":"m-1"}'],
	['type not a string', '{"type":5}'],
	['update without offset', '{"type":"update","market":"m-0001","value":1}'],
	['update with string offset', '{"type":"update","market":"m-0001","offset":"7"}'],
	['update without market', '{"type":"update","offset":7}'],
	['snapshot without markets', '{"type":"snapshot"}'],
	['snapshot with a bad record', '{"type":"snapshot","markets":[{"market":"m-1"}]}'],
]) {
	test(`parseMessage rejects: ${why}`, () => {
		assert.throws(() => parseMessage(text), (e) => e instanceof SluiceError && e.code === 'bad_message');
	});
}

for (const [why, ids] of [
	['not an array', 'm-0001'], ['empty id', ['']], ['number', [7]], ['slash', ['a/b']],
	['space', ['m 1']], ['too long', ['m'.repeat(201)]], ['null', [null]],
]) {
	test(`checkMarketIds rejects: ${why}`, () => {
		assert.throws(() => checkMarketIds(ids), (e) => e.code === 'bad_market');
	});
}

test('toWebSocketUrl and priceOf', () => {
	assert.equal(toWebSocketUrl('http://h:1/x'), 'ws://h:1/x');
	assert.equal(toWebSocketUrl('https://h'), 'wss://h');
	assert.equal(priceOf({market: 'm-1', price: 101.25, ts: 1}), 101.25);
	assert.equal(priceOf(12.3456), 12.3456);
	assert.equal(priceOf('12.3456'), 12.3456);
	assert.equal(priceOf({other: 1}), null);
	assert.equal(priceOf('abc'), null);
});

const METRICS = `# HELP sluice_records_in_total Records consumed.
# TYPE sluice_records_in_total counter
sluice_records_in_total{partition="0"} 100
sluice_records_in_total{partition="1"} 50
# TYPE sluice_consumer_lag gauge
sluice_consumer_lag{topic="markets",partition="0"} 3
sluice_consumer_lag{topic="markets",partition="1"} 0
# TYPE sluice_e2e_latency_ms histogram
sluice_e2e_latency_ms_bucket{le="1"} 10
sluice_e2e_latency_ms_bucket{le="2"} 30
sluice_e2e_latency_ms_bucket{le="+Inf"} 40
sluice_e2e_latency_ms_sum 70
sluice_e2e_latency_ms_count 40
odd{msg="a \\"quoted\\" \\\\ value\\nline",b="x,y"} -Inf
process_cpu_seconds_total 1.5e1 1700000000000
`;

test('parsePrometheus: types, labels with escapes, special values', () => {
	const s = parsePrometheus(METRICS);
	assert.equal(s.types.get('sluice_records_in_total'), 'counter');
	assert.equal(s.types.get('sluice_e2e_latency_ms'), 'histogram');
	assert.equal(sum(s, 'sluice_records_in_total'), 150);
	assert.equal(sum(s, 'sluice_records_in_total', {partition: '1'}), 50);
	assert.deepEqual([...byLabel(s, 'sluice_consumer_lag', 'partition')], [['0', 3], ['1', 0]]);
	const odd = s.samples.find((x) => x.name === 'odd');
	assert.equal(odd.labels.msg, 'a "quoted" \\ value\nline');
	assert.equal(odd.labels.b, 'x,y');
	assert.equal(odd.value, -Infinity);
	assert.equal(sum(s, 'process_cpu_seconds_total'), 15, 'timestamp ignored');
});

test('histogramQuantile interpolates within the bucket', () => {
	const s = parsePrometheus(METRICS);
	assert.equal(histogramQuantile(s, 'sluice_e2e_latency_ms', 0.5), 1.5);
	assert.equal(histogramQuantile(s, 'sluice_e2e_latency_ms', 0.25), 1);
	assert.equal(histogramQuantile(s, 'sluice_e2e_latency_ms', 0.99), 2, '+Inf bucket: the last finite bound');
	assert.equal(histogramQuantile(s, 'missing', 0.5), null);
	const later = parsePrometheus(METRICS.replace('le="1"} 10', 'le="1"} 20').replace('le="2"} 30', 'le="2"} 40')
		.replace('le="+Inf"} 40', 'le="+Inf"} 50'));
	assert.equal(histogramQuantile(later, 'sluice_e2e_latency_ms', 0.5), 1.25);
	assert.equal(histogramQuantile(later, 'sluice_e2e_latency_ms', 0.5, s), 0.5, 'window: only new observations');
});

for (const [why, text] of [
	['no value', 'metric_a\n'],
	['bad value', 'metric_a 12abc\n'],
	['bad name', '9metric 1\n'],
	['unterminated label', 'm{a="x} 1\n'],
	['label without value', 'm{a} 1\n'],
]) {
	test(`parsePrometheus rejects: ${why}`, () => {
		assert.throws(() => parsePrometheus(text), PromParseError);
	});
}

test('rate from two scrapes, counter reset, missing metric', () => {
	const a = {at: 1000, scrape: parsePrometheus('c_total 100\n')};
	const b = {at: 3000, scrape: parsePrometheus('c_total 300\n')};
	assert.equal(rate(a, b, 'c_total'), 100);
	const reset = {at: 5000, scrape: parsePrometheus('c_total 40\n')};
	assert.equal(rate(b, reset, 'c_total'), 20, 'after a reset the new value is the increase');
	assert.equal(rate(a, b, 'other_total'), null);
	assert.equal(rate(a, {...b, at: 1000}, 'c_total'), null, 'no time passed');
	assert.equal(rate(null, b, 'c_total'), null);
});

/* ---- the whole client flow against an in-memory API + SSE publisher ---- */

function fakeSystem() {
	const sys = {channels: new Map(), calls: [], apiDown: false, streams: [], nextChannel: 1, book: new Map()};
	const json = (status, body) => new Response(body === undefined ? null : JSON.stringify(body),
		{status, headers: {'content-type': 'application/json'}});
	sys.publish = (channel, msg) => {
		for (const s of sys.streams)
			if (s.channel === channel && !s.closed)
				s.ctl.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(msg)}\n\n`));
	};
	sys.dropStreams = () => {
		for (const s of sys.streams)
			if (!s.closed) {
				s.closed = true;
				s.ctl.close();
			}
	};
	sys.fetch = async (url, init = {}) => {
		const u = new URL(url);
		const method = init.method ?? 'GET';
		sys.calls.push(`${method} ${u.pathname}`);
		let m;
		if ((m = /^\/v1\/events\/(.+)$/.exec(u.pathname))) {
			if (!sys.channels.has(m[1]))
				return json(404, {error: 'unknown_channel', message: 'no such channel'});
			const s = {channel: m[1], closed: false};
			const body = new ReadableStream({start: (ctl) => (s.ctl = ctl), cancel: () => (s.closed = true)});
			sys.streams.push(s);
			queueMicrotask(() => sys.publish(m[1], {type: 'subscribed', channel: m[1]}));
			return new Response(body, {status: 200, headers: {'content-type': 'text/event-stream'}});
		}
		if (sys.apiDown)
			throw new TypeError('fetch failed', {cause: {code: 'ECONNREFUSED'}});
		if (method === 'POST' && u.pathname === '/v1/channels') {
			const id = `ch-${sys.nextChannel++}`;
			sys.channels.set(id, new Set(JSON.parse(init.body).markets));
			return json(201, {channel: id, stream: `/v1/stream/${id}`, events: `/v1/events/${id}`});
		}
		if ((m = /^\/v1\/channels\/([^/]+)(\/.*)?$/.exec(u.pathname))) {
			const ch = sys.channels.get(m[1]);
			if (!ch)
				return json(404, {error: 'unknown_channel', message: 'no such channel'});
			if (method === 'POST' && m[2] === '/begin') {
				const markets = [...ch].filter((id) => sys.book.has(id)).map((id) => sys.book.get(id));
				queueMicrotask(() => sys.publish(m[1], {type: 'snapshot', markets}));
				return json(202, {});
			}
			if (method === 'POST' && m[2] === '/subscriptions') {
				for (const id of JSON.parse(init.body).markets)
					ch.add(id);
				return json(200, {});
			}
			if (method === 'DELETE' && m[2]?.startsWith('/subscriptions/')) {
				ch.delete(decodeURIComponent(m[2].slice(15)));
				return new Response(null, {status: 204});
			}
			if (method === 'GET' && !m[2])
				return json(200, {channel: m[1], markets: [...ch]});
			if (method === 'DELETE' && !m[2]) {
				sys.channels.delete(m[1]);
				return new Response(null, {status: 204});
			}
		}
		return json(404, {error: 'not_found', message: 'no route'});
	};
	sys.update = (r) => {
		sys.book.set(r.market, r);
		for (const [id, ch] of sys.channels)
			if (ch.has(r.market))
				sys.publish(id, {type: 'update', ...r});
	};
	return sys;
}

function waitFor(what, cond, ms = 3000) {
	return new Promise((resolve, reject) => {
		const t0 = Date.now();
		const tick = () => {
			if (cond())
				return resolve();
			if (Date.now() - t0 > ms)
				return reject(new Error(`timed out waiting for ${what}`));
			setTimeout(tick, 5);
		};
		tick();
	});
}

test('client flow: create, subscribed, begin, snapshot, updates, add/remove, reconnect', async () => {
	const sys = fakeSystem();
	sys.book.set('m-0001', rec('m-0001', 10));
	sys.book.set('m-0002', rec('m-0002', 20));
	sys.book.set('m-0003', rec('m-0003', 30));
	const c = new SluiceClient({apiUrl: 'http://api.test', publisherUrl: 'http://pub.test', markets: ['m-0001', 'm-0002'],
		fetch: sys.fetch, WebSocket: undefined, backoff: {initialMs: 5, maxMs: 20}});
	const states = [];
	const updates = [];
	c.on('state', (s) => states.push(s.state));
	c.on('update', (u) => updates.push(`${u.market}@${u.offset}`));
	c.start();
	await c.whenLive(3000);
	assert.equal(c.transport, 'sse', 'Node 20 without WebSocket uses SSE');
	assert.deepEqual(states, ['connecting', 'subscribed', 'live']);
	assert.deepEqual(sys.calls.slice(0, 3), ['POST /v1/channels', 'GET /v1/events/ch-1', 'POST /v1/channels/ch-1/begin']);
	await waitFor('snapshot', () => c.markets.size === 2);
	sys.update(rec('m-0001', 11));
	sys.update(rec('m-0001', 11, 'dup'));
	sys.update(rec('m-0001', 9, 'old'));
	await waitFor('update', () => c.markets.get('m-0001').offset === 11);
	assert.deepEqual(updates, ['m-0001@11'], 'duplicates and older offsets are dropped');

	await c.addMarkets(['m-0003']);
	await waitFor('added market snapshot', () => c.markets.get('m-0003')?.offset === 30);
	await c.removeMarkets(['m-0002']);
	assert.equal(c.markets.has('m-0002'), false);
	assert.deepEqual([...sys.channels.get('ch-1')].sort(), ['m-0001', 'm-0003']);
	await assert.rejects(c.addMarkets(['bad id']), (e) => e.code === 'bad_market');
	assert.deepEqual(c.wanted.sort(), ['m-0001', 'm-0003'], 'a bad add changes nothing');

	/* A resumed subscription (the publisher lost Redis): begin again. */
	sys.book.set('m-0001', rec('m-0001', 12)); /* missed while Redis was away */
	const begins = sys.calls.filter((c) => c.endsWith('/begin')).length;
	sys.publish('ch-1', {type: 'subscribed', channel: 'ch-1', resumed: true});
	await waitFor('begin after resumed', () => c.markets.get('m-0001').offset === 12);
	assert.equal(sys.calls.filter((x) => x.endsWith('/begin')).length, begins + 1);

	/* Publisher loss: the stream ends, updates happen meanwhile, the client
	 * comes back on the same channel and ends with the full state. */
	sys.dropStreams();
	sys.book.set('m-0003', rec('m-0003', 31)); /* published to nobody: the stream is down */
	await waitFor('reconnecting', () => states.includes('reconnecting'));
	await waitFor('live again with m-0003@31', () => c.state === 'live' && c.markets.get('m-0003')?.offset === 31);
	assert.equal(c.channel, 'ch-1', 'same channel');

	/* Channel deleted while the stream was down: recreated with the markets. */
	sys.channels.delete('ch-1');
	sys.dropStreams();
	await waitFor('new channel', () => c.state === 'live' && c.channel === 'ch-2');
	assert.deepEqual([...sys.channels.get('ch-2')].sort(), ['m-0001', 'm-0003']);

	/* closed message: terminal. */
	sys.publish('ch-2', {type: 'closed', channel: 'ch-2'});
	sys.dropStreams();
	await waitFor('closed', () => c.state === 'closed');
	await c.close();
});

test('client: the stream token rides on the stream URL and is renewed before it expires', async () => {
	assert.equal(jwtExp(`x.${btoa(JSON.stringify({exp: 1234})).replace(/=+$/, '')}.y`), 1234);
	assert.equal(jwtExp('not a token'), 0);
	const sys = fakeSystem();
	sys.book.set('m-0001', rec('m-0001', 10));
	let now = 1_000_000_000_000;
	let n = 0;
	/* Tokens valid 60 s from the fake clock, a new one on each answer. */
	const mint = () => `h.${btoa(JSON.stringify({chan: 'ch-1', exp: Math.floor(now / 1000) + 60, n: ++n})).replace(/=+$/, '')}.s`;
	const streams = [];
	const f = async (url, init = {}) => {
		const u = new URL(url);
		if (u.pathname.startsWith('/v1/events/'))
			streams.push(u.searchParams.get('token'));
		const res = await sys.fetch(url, init);
		const method = init.method ?? 'GET';
		if ((method === 'POST' && u.pathname === '/v1/channels') || (method === 'GET' && /^\/v1\/channels\/[^/]+$/.test(u.pathname))) {
			const body = await res.json();
			return new Response(JSON.stringify({...body, stream_token: mint()}), {status: res.status});
		}
		return res;
	};
	const c = new SluiceClient({apiUrl: 'http://api.test', publisherUrl: 'http://pub.test', markets: ['m-0001'],
		fetch: f, WebSocket: undefined, backoff: {initialMs: 5, maxMs: 20}, now: () => now});
	c.start();
	await c.whenLive(3000);
	assert.equal(streams.length, 1);
	assert.equal(jwtExp(streams[0]), Math.floor(now / 1000) + 60, 'the stream opened with the token of the create answer');
	/* Reconnect while the token has 60 s left: the same token, no GET. */
	sys.dropStreams();
	await waitFor('a second stream', () => streams.length === 2 && c.state === 'live');
	assert.equal(streams[1], streams[0]);
	/* 45 s later it has 15 s left: renewed with GET /v1/channels/ch-1 first. */
	now += 45000;
	const gets = sys.calls.filter((x) => x === 'GET /v1/channels/ch-1').length;
	sys.dropStreams();
	await waitFor('a third stream', () => streams.length === 3 && c.state === 'live');
	assert.equal(sys.calls.filter((x) => x === 'GET /v1/channels/ch-1').length, gets + 1);
	assert.notEqual(streams[2], streams[0]);
	assert.equal(jwtExp(streams[2]), Math.floor(now / 1000) + 60);
	await c.close();
});

test('client: API down gives the error state, then recovers', async () => {
	const sys = fakeSystem();
	sys.apiDown = true;
	const c = new SluiceClient({apiUrl: 'http://api.test', publisherUrl: 'http://pub.test', markets: ['m-0001'],
		fetch: sys.fetch, backoff: {initialMs: 5, maxMs: 10}});
	const seen = [];
	c.on('state', (s) => seen.push(s));
	c.start();
	await waitFor('error state', () => c.state === 'error');
	const err = seen.find((s) => s.state === 'error').error;
	assert.equal(err.code, 'api_unreachable');
	assert.match(err.message, /ECONNREFUSED/);
	sys.apiDown = false;
	await c.whenLive(3000);
	await c.close({deleteChannel: true});
	assert.equal(c.state, 'closed');
	assert.equal(sys.calls.at(-1), 'DELETE /v1/channels/ch-1');
});

test('client: bad options are refused', () => {
	assert.throws(() => new SluiceClient({markets: ['m-1']}), (e) => e.code === 'bad_config');
	assert.throws(() => new SluiceClient({apiUrl: 'http://a', publisherUrl: 'http://b', transport: 'carrier-pigeon'}),
		(e) => e.code === 'bad_config');
	assert.throws(() => new SluiceClient({apiUrl: 'http://a', publisherUrl: 'http://b', markets: [1]}),
		(e) => e.code === 'bad_market');
});

test('parseSelection: ids, ranges, all, dedup', () => {
	assert.deepEqual(parseSelection('m-0001, m-0002 m-0001'), {all: false, ids: ['m-0001', 'm-0002']});
	assert.deepEqual(parseSelection('m-0009..m-0011').ids, ['m-0009', 'm-0010', 'm-0011']);
	assert.deepEqual(parseSelection('m-0098..0101').ids, ['m-0098', 'm-0099', 'm-0100', 'm-0101']);
	assert.deepEqual(parseSelection('ALL'), {all: true, ids: []});
	assert.deepEqual(parseSelection('  '), {all: false, ids: []});
});

for (const [why, text] of [
	['backwards range', 'm-0005..m-0001'], ['prefixes differ', 'a-1..b-3'], ['huge range', 'm-0..m-99999'],
	['bad char', 'm-0001 m/2'],
]) {
	test(`parseSelection rejects: ${why}`, () => {
		assert.throws(() => parseSelection(text), (e) => e.code === 'bad_market');
	});
}

test('discoverMarkets asks in batches and stops after the last known market', async () => {
	const asked = [];
	const known = new Set(['m-0001', 'm-0002', 'm-0150']);
	const f = async (url) => {
		const ids = new URL(url).searchParams.get('ids').split(',');
		asked.push(ids.length);
		return new Response(JSON.stringify({markets: ids.filter((i) => known.has(i)).map((market) => ({market, offset: 1}))}));
	};
	assert.deepEqual(await discoverMarkets('http://api', {fetch: f, batch: 100, limit: 1000}), ['m-0001', 'm-0002', 'm-0150']);
	assert.deepEqual(asked, [100, 100, 100]);
	const down = async () => {
		throw new TypeError('fetch failed');
	};
	await assert.rejects(discoverMarkets('http://api', {fetch: down}), (e) => e.code === 'api_unreachable');
	const missing = async () => new Response('{"error":"not_found"}', {status: 404});
	await assert.rejects(discoverMarkets('http://api', {fetch: missing}), (e) => e.status === 404);
});

test('discoverMarkets sends the given headers (a bearer token) with every batch', async () => {
	const seen = [];
	const f = async (url, init) => {
		seen.push(init.headers.authorization);
		return new Response(JSON.stringify({markets: [{market: 'm-0001', offset: 1}]}));
	};
	await discoverMarkets('http://api', {fetch: f, batch: 100, limit: 200, headers: {authorization: 'Bearer t.k.n'}});
	assert.deepEqual(seen, ['Bearer t.k.n', 'Bearer t.k.n']);
	const refused = async () => new Response('{"error":"unauthorized"}', {status: 401});
	await assert.rejects(discoverMarkets('http://api', {fetch: refused}), (e) => e.status === 401);
});

test('system summary: rates, lag per partition, owners, roles down', () => {
	assert.equal(roleKind('reducer-2'), 'reducer');
	assert.equal(roleKind('publisher'), 'publisher');
	assert.equal(roleKind('rest-proxy'), 'rest-proxy');
	const at = (t, text) => ({at: t, scrape: parsePrometheus(text)});
	const red = (n, lagText) => `process_cpu_seconds_total ${n / 100}\nsluice_reducer_records_total ${n}\n${lagText}`;
	const sources = [
		{name: 'reducer-1', prev: at(0, red(100, '')), cur: at(2000, red(300, 'sluice_reducer_consumer_lag{partition="1"} 5\nsluice_reducer_consumer_lag{partition="0"} 2\n'))},
		{name: 'reducer-2', prev: null, cur: at(2000, red(50, 'sluice_reducer_consumer_lag{partition="2"} 0\n'))},
		{name: 'reducer-3', prev: null, cur: null, error: 'Failed to fetch'},
		{name: 'publisher', prev: at(0, 'sluice_publisher_messages_out_total 1000\nsluice_publisher_connections 3\n'),
			cur: at(1000, 'sluice_publisher_messages_out_total 1500\nsluice_publisher_connections 4\n')},
	];
	sources[3].cur.scrape = parsePrometheus('sluice_publisher_messages_out_total 1500\nsluice_publisher_connections 4\n' +
		'sluice_publisher_e2e_latency_ms_bucket{le="1"} 10\nsluice_publisher_e2e_latency_ms_bucket{le="2"} 20\n' +
		'sluice_publisher_e2e_latency_ms_bucket{le="+Inf"} 20\n');
	const sm = summarize(sources, 0);
	assert.deepEqual(sm.e2e, {p50: 1, p99: 1.98}, 'publisher e2e quantiles from its histogram');
	assert.equal(sm.recordsIn, 100, 'only reducer-1 has two scrapes: (300-100)/2s');
	assert.equal(sm.messagesOut, 500);
	assert.equal(sm.connections, 4);
	assert.equal(sm.totalLag, 7);
	assert.deepEqual([...sm.lag.keys()], ['0', '1', '2'], 'sorted by partition');
	assert.equal(sm.lag.get('2').owner, 'reducer-2');
	assert.deepEqual(sm.reducers, [
		{name: 'reducer-1', up: true, partitions: ['0', '1'], count: 2, lag: 7},
		{name: 'reducer-2', up: true, partitions: ['2'], count: 1, lag: 0},
		{name: 'reducer-3', up: false, partitions: [], count: null, lag: null},
	]);
	assert.equal(sm.roles.find((r) => r.name === 'reducer-1').cpuPct, 100);
	assert.equal(sm.roles.find((r) => r.name === 'reducer-3').up, false);
	/* What sluice's reducers render today: totals without partition labels. */
	const totals = summarize([{name: 'reducer-1', prev: null, cur: at(0,
		'sluice_reducer_partitions_owned 6\nsluice_reducer_consumer_lag 42\n')}]);
	assert.deepEqual(totals.reducers, [{name: 'reducer-1', up: true, partitions: [], count: 6, lag: 42}]);
	assert.equal(totals.totalLag, 42);
	assert.equal(totals.lag.size, 0);
	const empty = summarize([]);
	assert.equal(empty.recordsIn, null, 'no data: null, shown as a dash');
});

test('client splits long market lists at maxMarketsPerRequest', async () => {
	const sys = fakeSystem();
	const ids = Array.from({length: 7}, (_, i) => `m-${String(i + 1).padStart(4, '0')}`);
	const c = new SluiceClient({apiUrl: 'http://api.test', publisherUrl: 'http://pub.test', markets: ids,
		fetch: sys.fetch, maxMarketsPerRequest: 3});
	c.start();
	await c.whenLive(3000);
	assert.deepEqual(sys.calls.slice(0, 3), ['POST /v1/channels', 'POST /v1/channels/ch-1/subscriptions',
		'POST /v1/channels/ch-1/subscriptions']);
	assert.deepEqual([...sys.channels.get('ch-1')], ids);
	await c.addMarkets(['m-0100', 'm-0101', 'm-0102', 'm-0103']);
	assert.equal(sys.calls.filter((x) => x.endsWith('/subscriptions')).length, 4);
	assert.equal(sys.channels.get('ch-1').size, 11);
	await c.close();
});

test('client: a channel created with only part of its markets is dropped and made again', async () => {
	const sys = fakeSystem();
	const ids = Array.from({length: 5}, (_, i) => `m-${String(i + 1).padStart(4, '0')}`);
	let failOnce = true;
	const flaky = async (url, init = {}) => {
		if (failOnce && (init.method ?? 'GET') === 'POST' && url.endsWith('/subscriptions')) {
			failOnce = false;
			return new Response('{"error":"kafka_unavailable","message":"Kafka is down"}', {status: 503});
		}
		return sys.fetch(url, init);
	};
	const c = new SluiceClient({apiUrl: 'http://api.test', publisherUrl: 'http://pub.test', markets: ids,
		fetch: flaky, maxMarketsPerRequest: 2, backoff: {initialMs: 5, maxMs: 10}});
	c.start();
	await c.whenLive(3000);
	assert.equal(sys.channels.has('ch-1'), false, 'the partial channel was deleted');
	assert.deepEqual([...sys.channels.get('ch-2')], ids, 'the new channel has every market');
	assert.equal(c.channel, 'ch-2');
	await c.close();
});

test('client attaches to an existing channel and takes its markets; a gone one is made anew', async () => {
	const sys = fakeSystem();
	sys.book.set('m-0007', rec('m-0007', 70));
	sys.channels.set('ch-old', new Set(['m-0007']));
	sys.nextChannel = 9;
	const c = new SluiceClient({apiUrl: 'http://api.test', publisherUrl: 'http://pub.test', channel: 'ch-old',
		fetch: sys.fetch, backoff: {initialMs: 5, maxMs: 10}});
	c.start();
	await c.whenLive(3000);
	assert.equal(sys.calls[0], 'GET /v1/channels/ch-old');
	assert.deepEqual(c.wanted, ['m-0007']);
	await waitFor('snapshot of the adopted market', () => c.markets.get('m-0007')?.offset === 70);
	await c.close();

	const gone = new SluiceClient({apiUrl: 'http://api.test', publisherUrl: 'http://pub.test', channel: 'ch-none',
		markets: ['m-0007'], fetch: sys.fetch, backoff: {initialMs: 5, maxMs: 10}});
	gone.start();
	await gone.whenLive(3000);
	assert.equal(gone.channel, 'ch-9', 'a channel that no longer exists is created anew');
	assert.deepEqual([...sys.channels.get('ch-9')], ['m-0007']);
	await gone.close();
});
