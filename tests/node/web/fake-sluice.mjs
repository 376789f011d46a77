/* fake-sluice.mjs: an in-process stand-in for the publisher + API + feed,
 * for working on the dashboard's looks without Kafka and Redis.
 *
 * How it fits: `node tests/node/web/fake-sluice.mjs [port] [markets] [rate]`
 * serves web/ and /config.json like `sluice publisher`, the control API of
 * SPEC section 3 (channels, subscriptions, begin, markets), the stream over
 * SSE and WebSocket (RFC 6455 server side: handshake, unmasked text frames,
 * close), a random-walk feed (the seed's algorithm) and a /metrics page in
 * the shape the roles render. Nothing in the test suite depends on it for a
 * verdict: the tests that count run the real roles (0502, 0503); this is a
 * development tool (docs/dashboard.md).
 * Non-goals: fidelity in failure modes, persistence, performance.
 */
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');
const port = Number(process.argv[2] ?? 8099);
const nMarkets = Number(process.argv[3] ?? 200);
const ratePerMarket = Number(process.argv[4] ?? 3);

const channels = new Map(); /* id -> {markets: Set, conns: Set} */
const state = new Map(); /* market -> record */
const walk = new Map();
let offset = 0;
let recordsIn = 0, messagesOut = 0;
const started = Date.now();

function normal() {
	return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

function tick() {
	const id = `m-${String(1 + Math.floor(Math.random() * nMarkets)).padStart(4, '0')}`;
	const w = walk.get(id) ?? {dir: 0, value: 100 + Math.random() * 20};
	w.dir = Math.max(-0.75, Math.min(0.75, w.dir + normal()));
	w.value += w.dir * 0.05;
	walk.set(id, w);
	const partition = Number(id.slice(2)) % 12;
	const rec = {market: id, value: {market: id, price: Number(w.value.toFixed(4)), ts: Date.now()}, offset: ++offset,
		partition, ts: Date.now() - 2 - Math.floor(Math.random() * 6)};
	state.set(id, rec);
	recordsIn++;
	const msg = JSON.stringify({type: 'update', ...rec});
	for (const [, ch] of channels)
		if (ch.markets.has(id))
			for (const c of ch.conns) {
				c.send(msg);
				messagesOut++;
			}
}
for (let i = 1; i <= nMarkets; i++)
	for (let k = 0; k < 3; k++)
		tick();
const perMs = (nMarkets * ratePerMarket) / 1000;
setInterval(() => {
	for (let i = 0; i < perMs * 20; i++)
		tick();
}, 20);

function json(res, status, body) {
	res.writeHead(status, {'content-type': 'application/json', 'access-control-allow-origin': '*'});
	res.end(body === undefined ? '' : JSON.stringify(body));
}

function readBody(req) {
	return new Promise((resolve) => {
		let b = '';
		req.on('data', (c) => (b += c));
		req.on('end', () => {
			try {
				resolve(b ? JSON.parse(b) : {});
			} catch (e) {
				resolve(null);
			}
		});
	});
}

function wsFrame(text) {
	const payload = Buffer.from(text);
	const n = payload.length;
	const head = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255])
		: Buffer.concat([Buffer.from([0x81, 127]), (() => {
			const b = Buffer.alloc(8);
			b.writeBigUInt64BE(BigInt(n));
			return b;
		})()]);
	return Buffer.concat([head, payload]);
}

function subscribe(id, conn) {
	const ch = channels.get(id);
	ch.conns.add(conn);
	setTimeout(() => conn.send(JSON.stringify({type: 'subscribed', channel: id})), 5);
}

const server = http.createServer(async (req, res) => {
	const u = new URL(req.url, 'http://x');
	const p = u.pathname;
	let m;
	if (req.method === 'OPTIONS') {
		res.writeHead(204, {'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET,POST,DELETE',
			'access-control-allow-headers': 'content-type'});
		return res.end();
	}
	if (p === '/config.json')
		return json(res, 200, {api_url: `http://127.0.0.1:${port}`, metrics: {'reducer-1': `http://127.0.0.1:${port}/metrics?r=1`,
			'reducer-2': `http://127.0.0.1:${port}/metrics?r=2`, publisher: `http://127.0.0.1:${port}/metrics?r=pub`}});
	if (p === '/metrics') {
		const r = u.searchParams.get('r');
		let t = `# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ${(process.cpuUsage().user / 1e6).toFixed(2)}\n` +
			`# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ${process.memoryUsage().rss}\n` +
			`# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ${Math.floor(started / 1000)}\n`;
		if (r === 'pub')
			t += `sluice_publisher_messages_out_total ${messagesOut}\nsluice_publisher_connections ${[...channels.values()].reduce((a, c) => a + c.conns.size, 0)}\n`;
		else {
			t += `sluice_reducer_records_total ${Math.floor(recordsIn / 2)}\n`;
			for (let i = r === '1' ? 0 : 6; i < (r === '1' ? 6 : 12); i++)
				t += `sluice_reducer_consumer_lag{partition="${i}"} ${Math.floor(Math.random() * 40)}\n`;
		}
		res.writeHead(200, {'content-type': 'text/plain; version=0.0.4', 'access-control-allow-origin': '*'});
		return res.end(t);
	}
	if (req.method === 'POST' && p === '/v1/channels') {
		const body = await readBody(req);
		const id = crypto.randomUUID();
		channels.set(id, {markets: new Set(body?.markets ?? []), conns: new Set()});
		return json(res, 201, {channel: id, stream: `/v1/stream/${id}`, events: `/v1/events/${id}`});
	}
	if ((m = /^\/v1\/markets$/.exec(p))) {
		const ids = (u.searchParams.get('ids') ?? '').split(',');
		return json(res, 200, {markets: ids.filter((i) => state.has(i)).map((i) => state.get(i))});
	}
	if ((m = /^\/v1\/channels\/([^/]+)(\/.*)?$/.exec(p))) {
		const ch = channels.get(m[1]);
		if (!ch)
			return json(res, 404, {error: 'unknown_channel', message: 'no such channel'});
		if (req.method === 'POST' && m[2] === '/subscriptions') {
			for (const x of (await readBody(req))?.markets ?? [])
				ch.markets.add(x);
			return json(res, 200, {channel: m[1], markets: [...ch.markets]});
		}
		if (req.method === 'DELETE' && m[2]?.startsWith('/subscriptions/')) {
			ch.markets.delete(decodeURIComponent(m[2].slice(15)));
			return json(res, 204);
		}
		if (req.method === 'POST' && m[2] === '/begin') {
			const snap = JSON.stringify({type: 'snapshot', markets: [...ch.markets].filter((x) => state.has(x)).map((x) => state.get(x))});
			setTimeout(() => ch.conns.forEach((c) => c.send(snap)), 5);
			return json(res, 202, {});
		}
		if (req.method === 'GET' && !m[2])
			return json(res, 200, {channel: m[1], markets: [...ch.markets]});
	}
	if ((m = /^\/v1\/events\/(.+)$/.exec(p))) {
		if (!channels.has(m[1]))
			return json(res, 404, {error: 'unknown_channel', message: 'no such channel'});
		res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-store', 'access-control-allow-origin': '*'});
		const conn = {send: (t) => res.write(`data: ${t}\n\n`)};
		subscribe(m[1], conn);
		req.on('close', () => channels.get(m[1])?.conns.delete(conn));
		return;
	}
	const file = path.join(root, p === '/' ? 'index.html' : p);
	if (!file.startsWith(root) || !fs.existsSync(file))
		return json(res, 404, {error: 'not_found', message: p});
	const type = {'.html': 'text/html', '.css': 'text/css', '.mjs': 'text/javascript', '.js': 'text/javascript'}[path.extname(file)];
	res.writeHead(200, {'content-type': `${type ?? 'application/octet-stream'}; charset=utf-8`});
	res.end(fs.readFileSync(file));
});

server.on('upgrade', (req, sock) => {
	const m = /^\/v1\/stream\/(.+)$/.exec(new URL(req.url, 'http://x').pathname);
	if (!m || !channels.has(m[1])) {
		sock.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
		return;
	}
	const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
	sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
	const conn = {send: (t) => sock.write(wsFrame(t))};
	subscribe(m[1], conn);
	sock.on('data', (d) => {
		if ((d[0] & 0x0f) === 8)
			sock.end(Buffer.from([0x88, 0]));
	});
	sock.on('error', () => {});
	sock.on('close', () => channels.get(m[1])?.conns.delete(conn));
});

server.listen(port, '127.0.0.1', () => console.log(`fake sluice on http://127.0.0.1:${port}/ (${nMarkets} markets)`));
