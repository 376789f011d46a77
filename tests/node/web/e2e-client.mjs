/* e2e-client.mjs: the body of tests/integration/0502-web-client-e2e.sh: the
 * JavaScript client against the real roles.
 *
 * How it fits: started by the .sh wrapper (which provides Kafka + Redis and
 * checks the roles are built) with --experimental-websocket, so one client
 * uses WebSocket and one SSE. Records are produced with kcat and carry
 * known prices, so every check compares exact values and offsets.
 * Steps: snapshot, updates, add/remove, publisher restart, API down, channel
 * deleted, bad input; then every role must exit 0 on SIGTERM (ASan clean).
 * Non-goals: load (bench/ does that), reducer failover (pipeline tests).
 */
import assert from 'node:assert/strict';
import {SluiceClient} from '../../../web/sluice-client.mjs';
import {System, runAgainst, produce, waitFor} from './system.mjs';

const sys = new System('0502');
const A = 'm-0001', B = 'm-0002', C = 'm-0003', D = 'm-0004';
let step = 0;
const ok = (what) => console.log(`ok ${++step}: ${what}`);
const price = (rec) => rec?.value?.price;
let seq = 0;
const rec = (market, p) => [market, {market, price: p, ts: Date.now(), seq: ++seq}];

/* Every applied record per client and market must have a higher offset than
 * the one before: the dedup contract seen from outside. */
function watchOrder(client, label) {
	const last = new Map();
	const bad = [];
	const check = (r) => {
		if (last.has(r.market) && r.offset <= last.get(r.market))
			bad.push(`${label} ${r.market}: offset ${r.offset} after ${last.get(r.market)}`);
		last.set(r.market, r.offset);
	};
	client.on('update', check);
	client.on('snapshot', ({records}) => records.forEach(check));
	client.on('remove', ({markets}) => markets.forEach((m) => last.delete(m)));
	return bad;
}

async function main() {
	await sys.createTopics(12);
	await sys.start('api', 'api', [...sys.common()]);
	await sys.start('reducer-1', 'reducer', [...sys.common(), '--group', sys.group]);
	await sys.start('reducer-2', 'reducer', [...sys.common(), '--group', sys.group]);
	await sys.reducersSettled(['reducer-1', 'reducer-2']);
	await sys.start('publisher', 'publisher', [...sys.redis()]);
	ok('roles ready');
	const api = sys.url('api');
	const pub = sys.url('publisher');

	await produce(sys, [rec(A, 1.25), rec(A, 1.5), rec(B, 2.5), rec(C, 3.5)]);
	/* The reducers have the state once the API's market read shows it. */
	await waitFor('initial state in the API', 30, async () => {
		const r = await fetch(`${api}/v1/markets?ids=${A},${B},${C}`);
		const j = await r.json();
		return j.markets?.length === 3 && j.markets.find((m) => m.market === A)?.value?.price === 1.5;
	});
	ok('records produced reached the market state');

	const opts = {apiUrl: api, publisherUrl: pub, backoff: {initialMs: 100, maxMs: 1000}};
	const sse = new SluiceClient({...opts, markets: [A, B], transport: 'sse'});
	const ws = new SluiceClient({...opts, markets: [A, C], transport: 'websocket'});
	const orders = [watchOrder(sse, 'sse'), watchOrder(ws, 'ws')];
	sse.start();
	ws.start();
	await Promise.all([sse.whenLive(30000), ws.whenLive(30000)]);
	assert.equal(sse.transport, 'sse');
	assert.equal(ws.transport, 'websocket');
	await waitFor('snapshots', 20, () => price(sse.markets.get(A)) === 1.5 && price(sse.markets.get(B)) === 2.5 &&
		price(ws.markets.get(A)) === 1.5 && price(ws.markets.get(C)) === 3.5);
	assert.equal(sse.markets.size, 2);
	assert.equal(ws.markets.size, 2);
	ok('snapshot: both transports hold exactly their markets with the latest prices');

	const held = sse.markets.get(A).offset;
	await produce(sys, [rec(A, 1.75), rec(B, 2.75), rec(C, 3.75)]);
	await waitFor('updates', 20, () => price(sse.markets.get(A)) === 1.75 && price(sse.markets.get(B)) === 2.75 &&
		price(ws.markets.get(A)) === 1.75 && price(ws.markets.get(C)) === 3.75);
	assert.ok(sse.markets.get(A).offset > held, 'the update carries a newer offset');
	assert.ok(Number.isFinite(sse.markets.get(A).ts), 'ts is the Kafka record timestamp');
	assert.ok(Math.abs(Date.now() - sse.markets.get(A).ts) < 60000, 'ts is recent');
	ok('live updates reach both transports');

	await produce(sys, [rec(D, 4.5)]);
	await sse.addMarkets([D]);
	await waitFor('added market', 20, () => price(sse.markets.get(D)) === 4.5);
	const ch = await (await fetch(`${api}/v1/channels/${sse.channel}`)).json();
	assert.deepEqual([...ch.markets].sort(), [A, B, D]);
	await sse.removeMarkets([B]);
	const ch2 = await (await fetch(`${api}/v1/channels/${sse.channel}`)).json();
	assert.deepEqual([...ch2.markets].sort(), [A, D]);
	await produce(sys, [rec(B, 2.9), rec(D, 4.75)]);
	await waitFor('update after removal', 20, () => price(sse.markets.get(D)) === 4.75);
	assert.equal(sse.markets.has(B), false, 'a removed market stays removed');
	await assert.rejects(sse.addMarkets(['bad id']), (e) => e.code === 'bad_market');
	assert.deepEqual(sse.wanted.sort(), [A, D], 'bad input changes nothing');
	ok('markets added and removed while connected; bad ids refused');

	/* Publisher restart: both clients reconnect and catch up with what was
	 * produced while it was down. */
	const states = {sse: [], ws: []};
	sse.on('state', (s) => states.sse.push(s.state));
	ws.on('state', (s) => states.ws.push(s.state));
	await sys.stop('publisher');
	await waitFor('clients notice', 20, () => states.sse.includes('reconnecting') && states.ws.includes('reconnecting'));
	await produce(sys, [rec(A, 1.95), rec(C, 3.95), rec(D, 4.95)]);
	await sys.start('publisher', 'publisher', sys.roles.get('publisher').args, {port: sys.roles.get('publisher').port});
	await waitFor('full state after the restart', 40, () => sse.state === 'live' && ws.state === 'live' &&
		price(sse.markets.get(A)) === 1.95 && price(sse.markets.get(D)) === 4.95 &&
		price(ws.markets.get(A)) === 1.95 && price(ws.markets.get(C)) === 3.95);
	ok('publisher restart: reconnected and ended with the full state');

	/* The API down: a new client says so, and comes up once it is back. */
	await sys.stop('api');
	const late = new SluiceClient({...opts, markets: [A]});
	const lateStates = [];
	late.on('state', (s) => lateStates.push(s));
	late.start();
	await waitFor('error state', 20, () => late.state === 'error');
	const err = lateStates.find((s) => s.state === 'error').error;
	assert.equal(err.code, 'api_unreachable');
	await sys.start('api', 'api', sys.roles.get('api').args, {port: sys.roles.get('api').port});
	await late.whenLive(30000);
	await waitFor('late client state', 20, () => price(late.markets.get(A)) === 1.95);
	ok('API down: error state with a clear reason, then live once it is back');

	/* Deleting a channel closes its stream for good. */
	const wsChannel = ws.channel;
	const del = await fetch(`${api}/v1/channels/${wsChannel}`, {method: 'DELETE'});
	assert.equal(del.status, 204);
	await waitFor('ws closed', 20, () => ws.state === 'closed');
	assert.equal((await fetch(`${api}/v1/channels/${wsChannel}`)).status, 404);
	ok('deleted channel: "closed" reached the client, which stopped');

	await late.close({deleteChannel: true});
	await sse.close({deleteChannel: true});
	await ws.close();
	const bad = orders.flat();
	assert.deepEqual(bad, [], 'offsets applied in increasing order per market');
	ok('no market ever went back to an older offset');
}

await runAgainst(sys, main);
