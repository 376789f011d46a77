/* sluice-client.mjs: the JavaScript client of sluice, one dependency-free ES
 * module for browsers and Node.js 20+.
 *
 * How it fits: it drives the subscribe flow of SPEC section 2 against the
 * control API (`sluice api`) and a stream publisher (`sluice publisher`):
 * create a channel, open its stream (WebSocket, else Server-Sent Events read
 * through fetch streaming, which is what Node 20 gets since it has no global
 * WebSocket), wait for `subscribed`, `begin`, then apply the snapshot and the
 * updates, keeping per market only what is newer than the offset it holds.
 * After a publisher or network loss it reconnects with exponential backoff
 * and jitter (open the stream again, wait for `subscribed`, `begin` again) and
 * so ends with the full state. Markets can be added and removed while
 * connected. The dashboard (web/dashboard.mjs) and the Node tests use it.
 * The pure parts (MarketBook, backoffDelay, SseParser, parseMessage) are
 * exported for unit tests.
 * References: SPEC sections 2-3 and docs/protocol.md (messages), WHATWG HTML
 * "Server-sent events" (event stream parsing), RFC 6455 (close codes).
 * Credentials: opts.headers go with every API request (the dashboard puts
 * Authorization: Bearer there). When the API returns a stream token with
 * the channel (`stream_token`, a JWT bound to it, docs/security.md), the
 * stream is opened with ?token=<it> (a browser cannot set headers on a
 * WebSocket), and a token within 30 s of its `exp` is renewed first with
 * GET /v1/channels/<id>; a publisher that does not ask for one ignores it.
 * Non-goals: sending per-market offsets on reconnect (a fresh `begin` plus the
 * offset dedup gives the same state), query subscriptions, logins.
 */

/** Connection states, in the order a healthy connection goes through them. */
export const STATES = Object.freeze(['idle', 'connecting', 'subscribed', 'live', 'reconnecting', 'error', 'closed']);

const MARKET_ID_MAX = 200;

/** An error from the control API or the publisher: HTTP status (0 when the
 * server could not be reached), the API's stable error code and its message. */
export class SluiceError extends Error {
	constructor(status, code, message) {
		super(message);
		this.name = 'SluiceError';
		this.status = status;
		this.code = code;
	}
}

/** Throws a SluiceError('bad_market') unless every id is a usable market id. */
export function checkMarketIds(ids) {
	if (!Array.isArray(ids))
		throw new SluiceError(400, 'bad_market', 'markets must be an array of market ids');
	for (const id of ids) {
		if (typeof id !== 'string' || id.length === 0 || id.length > MARKET_ID_MAX || /[\s/?#%]/.test(id))
			throw new SluiceError(400, 'bad_market', `not a market id: ${JSON.stringify(id)}`);
	}
	return ids;
}

/** Exponential backoff with jitter: attempt 0 waits about initialMs, each
 * further attempt `factor` times longer up to maxMs; `jitter` (0..1) is the
 * part of the delay drawn at random, so that many clients cut off by the same
 * publisher do not come back in step. */
export function backoffDelay(attempt, opts = {}, random = Math.random) {
	const initialMs = opts.initialMs ?? 250;
	const maxMs = opts.maxMs ?? 10000;
	const factor = opts.factor ?? 2;
	const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
	const n = Math.max(0, Math.floor(attempt));
	const base = Math.min(maxMs, initialMs * Math.pow(factor, Math.min(n, 64)));
	return Math.round(base * (1 - jitter) + random() * base * jitter);
}

/** Incremental parser of a text/event-stream body: push() decoded text in
 * pieces of any size, get back the complete events' data (multi-line data
 * joined with "\n"). Comments, `event`, `id` and `retry` fields are ignored:
 * sluice sends only unnamed `data:` events. */
export class SseParser {
	constructor() {
		this.buf = '';
		this.data = [];
	}
	push(text) {
		const out = [];
		this.buf += text;
		for (;;) {
			const m = /\r\n|\r|\n/.exec(this.buf);
			if (!m)
				break;
			/* A lone \r at the end may be the first half of \r\n: wait for more. */
			if (m[0] === '\r' && m.index === this.buf.length - 1)
				break;
			const line = this.buf.slice(0, m.index);
			this.buf = this.buf.slice(m.index + m[0].length);
			if (line === '') {
				if (this.data.length)
					out.push(this.data.join('\n'));
				this.data = [];
			} else if (line.startsWith('data:')) {
				this.data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
			} else if (line === 'data') {
				this.data.push('');
			}
		}
		return out;
	}
}

/** Parse one client message (a WebSocket text frame or an SSE event's data).
 * Throws a SluiceError('bad_message') for anything that is not a JSON object
 * with a string `type`, or an update/snapshot with malformed records. */
export function parseMessage(text) {
	let msg;
	try {
		msg = JSON.parse(text);
	} catch (e) {
		throw new SluiceError(0, 'bad_message', `message is not JSON: ${String(text).slice(0, 80)}`);
	}
	if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof msg.type !== 'string')
		throw new SluiceError(0, 'bad_message', 'message is not an object with a type');
	if (msg.type === 'update')
		checkRecord(msg);
	else if (msg.type === 'snapshot') {
		if (!Array.isArray(msg.markets))
			throw new SluiceError(0, 'bad_message', 'snapshot without a markets array');
		msg.markets.forEach(checkRecord);
	}
	return msg;
}

function checkRecord(r) {
	if (r === null || typeof r !== 'object' || typeof r.market !== 'string' || !Number.isFinite(r.offset))
		throw new SluiceError(0, 'bad_message', 'market record without a market id and a numeric offset');
}

/** The client's view of its markets: the wanted set and, per market, the
 * newest record seen. apply() keeps a record only when its offset is above
 * the one held (SPEC 2 step 5), and never for a market not wanted (an update
 * still in flight after a removal must not bring the market back). */
export class MarketBook {
	constructor(ids = []) {
		this.wanted = new Set(ids);
		this.state = new Map();
	}
	want(ids) {
		for (const id of ids)
			this.wanted.add(id);
	}
	unwant(ids) {
		for (const id of ids) {
			this.wanted.delete(id);
			this.state.delete(id);
		}
	}
	/** Returns the stored record when applied, null when dropped. */
	apply(r) {
		if (!this.wanted.has(r.market))
			return null;
		const cur = this.state.get(r.market);
		if (cur && r.offset <= cur.offset)
			return null;
		const rec = {market: r.market, value: r.value, offset: r.offset, partition: r.partition, ts: r.ts};
		this.state.set(r.market, rec);
		return rec;
	}
	get(id) {
		return this.state.get(id);
	}
}

function trimSlash(url) {
	return String(url).replace(/\/+$/, '');
}

/** http(s)://host/x -> ws(s)://host/x */
export function toWebSocketUrl(url) {
	return String(url).replace(/^http(s?):/i, 'ws$1:');
}

/** The `exp` claim (seconds) of a JWT, or 0 when it cannot be read. */
export function jwtExp(token) {
	try {
		const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
		const exp = Number(JSON.parse(atob(part)).exp);
		return Number.isFinite(exp) ? exp : 0;
	} catch (e) {
		return 0;
	}
}

function defaultOrigin() {
	return typeof location !== 'undefined' && location.origin && location.origin !== 'null' ? location.origin : '';
}

/* A promise that a timer or an abort() can end; used for every wait so
 * that close() never leaves a pending timer behind. */
function sleep(ms, signal) {
	return new Promise((resolve) => {
		if (signal.aborted)
			return resolve(false);
		const t = setTimeout(() => {
			signal.removeEventListener('abort', onAbort);
			resolve(true);
		}, ms);
		const onAbort = () => {
			clearTimeout(t);
			resolve(false);
		};
		signal.addEventListener('abort', onAbort, {once: true});
	});
}

/**
 * One subscriber: a channel, its stream and its market state.
 *
 *   const c = new SluiceClient({apiUrl: 'http://127.0.0.1:8080',
 *                               publisherUrl: 'http://127.0.0.1:8090',
 *                               markets: ['m-0001', 'm-0002']});
 *   c.on('update', (rec) => console.log(rec.market, rec.value));
 *   c.start();
 *   await c.whenLive();
 *
 * Events (on(name, fn) returns a function that removes the listener):
 *   state    {state, error, attempt, delayMs, transport}  on every change
 *   snapshot {records, latencyMs}  records applied from one snapshot message
 *   update   record + {latencyMs}  one applied update (dropped ones are not emitted)
 *   remove   {markets}             markets removed by removeMarkets()
 *   message  parsed message        every message, before it is applied
 *   error    SluiceError           protocol errors and the publisher's `error` messages
 */
export class SluiceClient {
	constructor(opts = {}) {
		const origin = defaultOrigin();
		this.apiUrl = trimSlash(opts.apiUrl ?? origin);
		this.publisherUrl = trimSlash(opts.publisherUrl ?? origin);
		if (!this.apiUrl || !this.publisherUrl)
			throw new SluiceError(0, 'bad_config', 'apiUrl and publisherUrl are needed outside a browser page');
		this.book = new MarketBook(checkMarketIds(opts.markets ?? []));
		this.transportPref = opts.transport ?? 'auto';
		if (!['auto', 'websocket', 'sse'].includes(this.transportPref))
			throw new SluiceError(0, 'bad_config', `transport must be auto, websocket or sse, not ${this.transportPref}`);
		this.WebSocket = opts.WebSocket ?? globalThis.WebSocket;
		this.fetch = opts.fetch ?? globalThis.fetch?.bind(globalThis);
		if (!this.fetch)
			throw new SluiceError(0, 'bad_config', 'no fetch: Node.js 20 or a browser is needed');
		this.backoff = opts.backoff ?? {};
		this.random = opts.random ?? Math.random;
		this.headers = opts.headers ?? {};
		this.requestTimeoutMs = opts.requestTimeoutMs ?? 10000;
		/* The API caps markets per request (its --max-markets, 100 by
		 * default): longer lists go in several requests. */
		this.batch = opts.maxMarketsPerRequest ?? 100;
		this.subscribeTimeoutMs = opts.subscribeTimeoutMs ?? 10000;
		this.now = opts.now ?? Date.now;
		/* An existing channel to attach to (a page reload may keep its id);
		 * when it is gone the client creates a new one. */
		this.channel = opts.channel ?? null;
		this.attach = !!opts.channel;
		this.streamToken = null;
		this.state = 'idle';
		this.transport = null;
		this.lastError = null;
		this.attempt = 0;
		this.listeners = new Map();
		this.stream = null;
		this.stopper = new AbortController();
		this.queue = Promise.resolve();
		this.running = null;
		this.wsBroken = false;
		this.everLive = false;
	}

	get markets() {
		return this.book.state;
	}
	get wanted() {
		return [...this.book.wanted];
	}

	on(name, fn) {
		if (!this.listeners.has(name))
			this.listeners.set(name, new Set());
		this.listeners.get(name).add(fn);
		return () => this.listeners.get(name).delete(fn);
	}

	emit(name, arg) {
		for (const fn of this.listeners.get(name) ?? []) {
			try {
				fn(arg);
			} catch (e) {
				/* A listener's bug must not break the stream; report it once. */
				if (name !== 'error')
					this.emit('error', new SluiceError(0, 'listener_failed', `${name} listener: ${e.message}`));
			}
		}
	}

	setState(state, extra = {}) {
		this.state = state;
		this.emit('state', {state, error: this.lastError, attempt: this.attempt, transport: this.transport, ...extra});
	}

	/** Connect and keep connected until close(). Returns the run promise
	 * (resolves once closed); call it once. */
	start() {
		if (!this.running)
			this.running = this.run();
		return this.running;
	}

	/** Resolves when the client is live (now or later); rejects after timeoutMs. */
	whenLive(timeoutMs = 30000) {
		if (this.state === 'live')
			return Promise.resolve();
		return new Promise((resolve, reject) => {
			const t = setTimeout(() => {
				off();
				reject(new SluiceError(0, 'timeout', `not live after ${timeoutMs} ms (state ${this.state}` +
					(this.lastError ? `: ${this.lastError.message})` : ')')));
			}, timeoutMs);
			const off = this.on('state', ({state}) => {
				if (state === 'live' || state === 'closed') {
					clearTimeout(t);
					off();
					state === 'live' ? resolve() : reject(new SluiceError(0, 'closed', 'closed before live'));
				}
			});
		});
	}

	/** Run fn after every control operation queued before it, so that the
	 * API sees creates, subscriptions and begins in the order they were asked. */
	serial(fn) {
		const p = this.queue.then(fn);
		this.queue = p.catch(() => {});
		return p;
	}

	async request(method, path, body, opts = {}) {
		const ctl = new AbortController();
		const t = setTimeout(() => ctl.abort(), this.requestTimeoutMs);
		/* close() cuts requests of the connect loop short, not its own. */
		const stop = () => ctl.abort();
		if (!opts.survivesClose)
			this.stopper.signal.addEventListener('abort', stop, {once: true});
		const init = {method, headers: {...this.headers}, signal: ctl.signal};
		if (body !== undefined) {
			init.headers['content-type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		let res, text;
		try {
			res = await this.fetch(this.apiUrl + path, init);
			text = await res.text();
		} catch (e) {
			const why = ctl.signal.aborted ? `no answer in ${this.requestTimeoutMs} ms` : (e.cause?.code ?? e.message);
			throw new SluiceError(0, 'api_unreachable', `control API ${this.apiUrl} unreachable: ${why}`);
		} finally {
			clearTimeout(t);
			this.stopper.signal.removeEventListener('abort', stop);
		}
		let json = null;
		try {
			json = text ? JSON.parse(text) : null;
		} catch (e) {
			json = null;
		}
		if (!res.ok)
			throw new SluiceError(res.status, json?.error ?? `http_${res.status}`,
				`${method} ${path}: ${res.status} ${json?.message ?? text.slice(0, 120)}`);
		return json;
	}

	/** Subscribe to more markets. Bad ids throw before anything changes. */
	async addMarkets(ids) {
		checkMarketIds(ids);
		return this.serial(async () => {
			const fresh = ids.filter((id) => !this.book.wanted.has(id));
			if (!fresh.length)
				return;
			if (this.channel)
				for (let i = 0; i < fresh.length; i += this.batch) {
					const part = fresh.slice(i, i + this.batch);
					await this.request('POST', `/v1/channels/${this.channel}/subscriptions`, {markets: part});
					this.book.want(part);
				}
			this.book.want(fresh);
			/* The snapshot of begin carries the new markets' current state;
			 * markets already held are dropped by the offset check. */
			if (this.channel && this.state === 'live')
				await this.request('POST', `/v1/channels/${this.channel}/begin`);
		});
	}

	/** Unsubscribe; the markets' state is forgotten at once. */
	async removeMarkets(ids) {
		checkMarketIds(ids);
		return this.serial(async () => {
			const held = ids.filter((id) => this.book.wanted.has(id));
			for (const id of held) {
				if (this.channel) {
					try {
						await this.request('DELETE', `/v1/channels/${this.channel}/subscriptions/${encodeURIComponent(id)}`);
					} catch (e) {
						if (e.status !== 404)
							throw e;
					}
				}
				this.book.unwant([id]);
			}
			if (held.length)
				this.emit('remove', {markets: held});
		});
	}

	/** Stop for good and delete the channel (the API keeps nothing for a
	 * client that is gone); {deleteChannel: false} keeps it, to hand over. */
	async close(opts = {}) {
		this.stopper.abort();
		this.stream?.close();
		if (this.running)
			await this.running.catch(() => {});
		if (opts.deleteChannel !== false && this.channel) {
			try {
				await this.request('DELETE', `/v1/channels/${this.channel}`, undefined, {survivesClose: true});
			} catch (e) {
				/* Best effort: the channel may be gone already. */
			}
		}
		if (this.state !== 'closed')
			this.setState('closed');
	}

	/** For a page going away (pagehide): stop, and ask for the channel's
	 * deletion with a keepalive request that outlives the page. Returns at
	 * once; whatever the browser does not send, the channel's TTL ends. */
	release() {
		this.stopper.abort();
		this.stream?.close();
		if (this.channel) {
			this.fetch(`${this.apiUrl}/v1/channels/${this.channel}`, {method: 'DELETE', headers: {...this.headers},
				keepalive: true}).catch(() => {});
		}
		if (this.state !== 'closed')
			this.setState('closed');
	}

	async run() {
		const signal = this.stopper.signal;
		while (!signal.aborted) {
			try {
				this.setState('connecting');
				if (!this.channel)
					await this.serial(() => this.createChannel());
				else if (this.attach)
					await this.serial(() => this.adoptChannel());
				else if (this.streamToken && jwtExp(this.streamToken) * 1000 - this.now() < 30000)
					await this.serial(() => this.renewStreamToken());
				const stream = await this.openStream();
				this.setState('subscribed');
				await this.serial(() => this.request('POST', `/v1/channels/${this.channel}/begin`));
				this.attempt = 0;
				this.lastError = null;
				this.everLive = true;
				stream.live = true;
				this.setState('live');
				const end = await stream.done;
				if (end.closedByServer) {
					this.lastError = null;
					break;
				}
				throw new SluiceError(0, 'stream_lost', `stream lost (${end.why})`);
			} catch (e) {
				this.stream?.close();
				this.stream = null;
				if (signal.aborted)
					break;
				this.lastError = e instanceof SluiceError ? e : new SluiceError(0, 'failed', e.message);
				if (this.lastError.code === 'channel_gone' || this.lastError.status === 404)
					this.channel = null;
			}
			const delayMs = backoffDelay(this.attempt, this.backoff, this.random);
			this.attempt++;
			/* `reconnecting` while the stream is what failed after having been
			 * live; `error` when nothing worked yet or the control API is down. */
			const reconnecting = this.everLive && this.lastError.code !== 'api_unreachable';
			this.setState(reconnecting ? 'reconnecting' : 'error', {delayMs});
			await sleep(delayMs, signal);
		}
		this.stream?.close();
		this.stream = null;
		this.setState('closed');
	}

	async createChannel() {
		const markets = [...this.book.wanted];
		const first = markets.slice(0, this.batch);
		const res = await this.request('POST', '/v1/channels', first.length ? {markets: first} : {});
		if (!res || typeof res.channel !== 'string')
			throw new SluiceError(0, 'bad_response', 'POST /v1/channels answered without a channel id');
		try {
			for (let i = this.batch; i < markets.length; i += this.batch)
				await this.request('POST', `/v1/channels/${res.channel}/subscriptions`, {markets: markets.slice(i, i + this.batch)});
		} catch (e) {
			/* A channel with only some of the markets would stay short of
			 * them: drop it (best effort) and start over at the next attempt. */
			await this.request('DELETE', `/v1/channels/${res.channel}`).catch(() => {});
			throw e;
		}
		this.channel = res.channel;
		this.takeStreamToken(res);
	}

	takeStreamToken(body) {
		this.streamToken = typeof body?.stream_token === 'string' && body.stream_token ? body.stream_token : null;
	}

	/* `?token=<stream token>` for the stream's URL, or nothing. */
	tokenQuery() {
		return this.streamToken ? `?token=${encodeURIComponent(this.streamToken)}` : '';
	}

	async renewStreamToken() {
		try {
			this.takeStreamToken(await this.request('GET', `/v1/channels/${this.channel}`));
		} catch (e) {
			if (e.status === 404)
				throw new SluiceError(404, 'channel_gone', `channel ${this.channel} no longer exists`);
			throw e;
		}
	}

	/* Open the channel's stream and resolve once the publisher says
	 * `subscribed`. In auto mode a WebSocket that cannot open is followed at
	 * once by SSE, and SSE is kept from then on (a proxy may block upgrades). */
	async openStream() {
		const useWs = this.transportPref === 'websocket' ||
			(this.transportPref === 'auto' && typeof this.WebSocket === 'function' && !this.wsBroken);
		if (!useWs)
			return this.subscribe('sse');
		try {
			return await this.subscribe('websocket');
		} catch (e) {
			if (this.transportPref === 'websocket' || e.opened || e.code === 'channel_gone')
				throw e;
			const sse = await this.subscribe('sse');
			this.wsBroken = true;
			return sse;
		}
	}

	async subscribe(kind) {
		this.transport = kind;
		const stream = kind === 'websocket' ? this.openWebSocket() : await this.openSse();
		this.stream = stream;
		let timer;
		const timeout = new Promise((resolve, reject) => {
			timer = setTimeout(() => reject(new SluiceError(0, 'subscribe_timeout',
				`no "subscribed" within ${this.subscribeTimeoutMs} ms`)), this.subscribeTimeoutMs);
		});
		const failed = stream.done.then(async (end) => {
			if (end.closedByServer)
				throw new SluiceError(0, 'channel_gone', 'channel closed by the server');
			/* A WebSocket upgrade refused (404 for an unknown channel) is
			 * invisible to the page: ask the API whether the channel exists. */
			if (!end.opened && kind === 'websocket')
				await this.checkChannel();
			const err = new SluiceError(0, 'stream_failed', `${kind} stream ended before "subscribed" (${end.why})`);
			err.opened = end.opened;
			throw err;
		});
		try {
			await Promise.race([stream.subscribed, failed, timeout]);
		} catch (e) {
			stream.close();
			throw e;
		} finally {
			clearTimeout(timer);
			failed.catch(() => {});
		}
		return stream;
	}

	/* Attaching to an existing channel: its markets become ours. */
	async adoptChannel() {
		let info;
		try {
			info = await this.request('GET', `/v1/channels/${this.channel}`);
		} catch (e) {
			if (e.status === 404)
				throw new SluiceError(404, 'channel_gone', `channel ${this.channel} no longer exists`);
			throw e;
		}
		const ids = Array.isArray(info?.markets) ? info.markets.filter((m) => typeof m === 'string') : [];
		this.book.want(ids);
		this.takeStreamToken(info);
		this.attach = false;
	}

	async checkChannel() {
		try {
			await this.request('GET', `/v1/channels/${this.channel}`);
		} catch (e) {
			if (e.status === 404)
				throw new SluiceError(404, 'channel_gone', `channel ${this.channel} no longer exists`);
			throw e;
		}
	}

	/* Common part of both transports: parse, apply, and note `subscribed`
	 * and `closed`. */
	makeStream() {
		const s = {opened: false, closedByServer: false};
		s.subscribed = new Promise((resolve) => (s.onSubscribed = resolve));
		s.done = new Promise((resolve) => (s.finish = (why) => resolve({why, opened: s.opened, closedByServer: s.closedByServer})));
		s.onText = (text) => {
			let msg;
			try {
				msg = parseMessage(text);
			} catch (e) {
				this.emit('error', e);
				return;
			}
			this.emit('message', msg);
			this.handle(msg, s);
		};
		return s;
	}

	handle(msg, s) {
		const now = this.now();
		switch (msg.type) {
		case 'subscribed':
			/* `resumed`: the publisher lost Redis and subscribed again, so
			 * messages may be missing: a new begin brings a fresh snapshot. */
			if (msg.resumed && s.live)
				this.serial(() => this.request('POST', `/v1/channels/${this.channel}/begin`)).catch((e) => this.emit('error', e));
			s.onSubscribed();
			break;
		case 'snapshot': {
			const records = [];
			for (const r of msg.markets) {
				const rec = this.book.apply(r);
				if (rec)
					records.push(rec);
			}
			this.emit('snapshot', {records, receivedAt: now});
			break;
		}
		case 'update': {
			const rec = this.book.apply(msg);
			if (rec)
				this.emit('update', {...rec, receivedAt: now, latencyMs: Number.isFinite(rec.ts) ? now - rec.ts : null});
			break;
		}
		case 'closed':
			s.closedByServer = true;
			break;
		case 'error':
			this.emit('error', new SluiceError(0, String(msg.code ?? 'publisher_error'), String(msg.message ?? '')));
			break;
		default:
			/* Unknown types are ignored: newer publishers may add some. */
			break;
		}
	}

	openWebSocket() {
		const s = this.makeStream();
		const ws = new this.WebSocket(`${toWebSocketUrl(this.publisherUrl)}/v1/stream/${this.channel}${this.tokenQuery()}`);
		let ended = false;
		const end = (why) => {
			if (!ended) {
				ended = true;
				s.finish(why);
			}
		};
		ws.onopen = () => (s.opened = true);
		ws.onmessage = (ev) => {
			if (typeof ev.data === 'string')
				s.onText(ev.data);
		};
		ws.onerror = () => {};
		ws.onclose = (ev) => end(`websocket closed, code ${ev.code}${ev.reason ? ' ' + ev.reason : ''}`);
		s.close = () => {
			try {
				ws.close(1000);
			} catch (e) {
				/* Closing a socket that never opened throws in some runtimes. */
			}
			end('closed by the client');
		};
		return s;
	}

	async openSse() {
		const s = this.makeStream();
		const ctl = new AbortController();
		s.close = () => {
			ctl.abort();
			s.reader?.cancel().catch(() => {});
		};
		const url = `${this.publisherUrl}/v1/events/${this.channel}${this.tokenQuery()}`;
		const t = setTimeout(() => ctl.abort(), this.requestTimeoutMs);
		let res;
		try {
			res = await this.fetch(url, {headers: {accept: 'text/event-stream', ...this.headers}, signal: ctl.signal, cache: 'no-store'});
		} catch (e) {
			throw new SluiceError(0, 'publisher_unreachable', `publisher ${this.publisherUrl} unreachable: ${e.cause?.code ?? e.message}`);
		} finally {
			clearTimeout(t);
		}
		if (!res.ok) {
			const text = await res.text().catch(() => '');
			if (res.status === 404)
				throw new SluiceError(404, 'channel_gone', `publisher: channel ${this.channel} unknown (${text.slice(0, 120)})`);
			throw new SluiceError(res.status, 'stream_refused', `publisher refused the stream: ${res.status} ${text.slice(0, 120)}`);
		}
		s.opened = true;
		this.pumpSse(res.body, s, ctl.signal);
		return s;
	}

	async pumpSse(body, s, signal) {
		const parser = new SseParser();
		const decoder = new TextDecoder();
		const reader = body.getReader();
		s.reader = reader;
		let why = 'server ended the event stream';
		try {
			for (;;) {
				const {value, done} = await reader.read();
				if (done)
					break;
				for (const data of parser.push(decoder.decode(value, {stream: true})))
					s.onText(data);
			}
		} catch (e) {
			why = `event stream failed: ${e.cause?.code ?? e.message}`;
		}
		s.finish(signal.aborted ? 'closed by the client' : why);
	}
}
