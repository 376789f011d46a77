/* js-client.mjs: how many stream messages per second the JavaScript client
 * (web/sluice-client.mjs) applies on one core, under Node.js, next to the
 * bare JSON.parse of the same messages.
 *
 * How it fits: bench/js-client.sh runs it (make bench). Three paths over the
 * same 200-market update stream, each timed over ROUNDS rounds in rotated
 * order, medians reported with the ratio to the JSON.parse baseline:
 *   parse    JSON.parse of each message (the floor any JS client pays)
 *   apply    SseParser + parseMessage + MarketBook.apply (the client's
 *            per-message work, no I/O)
 *   client   the whole SluiceClient over an in-memory SSE response (fetch
 *            injected): stream decoding, events, dedup, listeners
 * Prints one markdown table on stdout. Never fails on a number.
 * Non-goals: network or browser rendering cost (0503 measures the page).
 */
import {MarketBook, SluiceClient, SseParser, parseMessage} from '../web/sluice-client.mjs';

const MARKETS = 200;
const N = Number(process.env.BENCH_MESSAGES ?? 200000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ids = Array.from({length: MARKETS}, (_, i) => `m-${String(i + 1).padStart(4, '0')}`);

const messages = [];
for (let i = 0; i < N; i++) {
	const market = ids[i % MARKETS];
	messages.push(JSON.stringify({type: 'update', market, value: {market, price: 100 + (i % 977) / 100, ts: 1764120000000 + i},
		offset: 1000 + Math.floor(i / MARKETS), partition: i % 12, ts: 1764120000000 + i}));
}
/* The SSE body, cut in 16 KiB chunks as a socket would deliver it. */
const body = new TextEncoder().encode(messages.map((m) => `data: ${m}\n\n`).join(''));
const CHUNK = 16384;

function parseOnly() {
	let n = 0;
	for (const m of messages)
		n += JSON.parse(m).offset > 0 ? 1 : 0;
	return n;
}

function applyPath() {
	const parser = new SseParser();
	const book = new MarketBook(ids);
	const dec = new TextDecoder();
	let n = 0;
	for (let i = 0; i < body.length; i += CHUNK)
		for (const data of parser.push(dec.decode(body.subarray(i, i + CHUNK), {stream: true})))
			if (book.apply(parseMessage(data)))
				n++;
	return n;
}

async function clientPath() {
	let applied = 0;
	let done;
	const finished = new Promise((r) => (done = r));
	const fetchImpl = async (url, init = {}) => {
		const path = new URL(url).pathname;
		if (path === '/v1/channels')
			return new Response('{"channel":"bench"}', {status: 201});
		if (path.endsWith('/begin')) {
			queueMicrotask(() => pump());
			return new Response('{}', {status: 202});
		}
		if (path === '/v1/events/bench') {
			const stream = new ReadableStream({start: (c) => (ctl = c)});
			queueMicrotask(() => ctl.enqueue(new TextEncoder().encode('data: {"type":"subscribed","channel":"bench"}\n\n')));
			return new Response(stream, {status: 200});
		}
		return new Response('{}', {status: init.method === 'DELETE' ? 204 : 200});
	};
	let ctl;
	const pump = () => {
		for (let i = 0; i < body.length; i += CHUNK)
			ctl.enqueue(body.subarray(i, i + CHUNK));
	};
	const c = new SluiceClient({apiUrl: 'http://api', publisherUrl: 'http://pub', markets: ids, fetch: fetchImpl});
	c.on('update', () => {
		if (++applied === N)
			done();
	});
	c.start();
	await c.whenLive(10000);
	const t0 = performance.now();
	await finished;
	const ms = performance.now() - t0;
	await c.close();
	return ms;
}

const timeSync = (fn) => {
	const t0 = performance.now();
	fn();
	return performance.now() - t0;
};

const paths = {parse: async () => timeSync(parseOnly), apply: async () => timeSync(applyPath), client: clientPath};
const names = Object.keys(paths);
const times = Object.fromEntries(names.map((n) => [n, []]));
await paths.apply(); /* warm-up: JIT */
for (let r = 0; r < ROUNDS; r++) {
	for (let k = 0; k < names.length; k++) {
		const name = names[(r + k) % names.length];
		times[name].push(await paths[name]());
	}
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const rate = (name) => N / (median(times[name]) / 1000);
const base = rate('parse');
console.log(`| path | messages/s (median of ${ROUNDS}) | vs JSON.parse |`);
console.log('|---|---:|---:|');
for (const n of names)
	console.log(`| ${n} | ${Math.round(rate(n)).toLocaleString('en-US')} | ${(rate(n) / base).toFixed(2)} |`);
