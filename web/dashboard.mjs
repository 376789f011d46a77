/* dashboard.mjs: the dashboard page's entry point: reads /config.json, opens
 * a stream with SluiceClient, and wires the market picker, the odds board,
 * the connection/latency header and the system panel together.
 *
 * How it fits: web/index.html loads it; the publisher serves both and
 * answers /config.json with {"api_url", "metrics": {name: url}}. The page
 * works from any origin the API allows (its --cors-origin): ?api=URL and
 * ?publisher=URL override the config, ?markets=m-0001..m-0050 (or "all")
 * picks markets, ?transport=sse forces SSE, ?frame_ms=N sets the board's
 * minimum time between DOM writes (100 ms). The selection is remembered in
 * localStorage. A bearer token for the API comes in the address's
 * fragment, #token=<JWT> (`make up` prints such a link; a fragment never
 * reaches a server or its logs): it is kept in localStorage, dropped from
 * the address bar, and sent as Authorization: Bearer on every API call;
 * an empty #token= forgets it. window.sluice exposes the parts for
 * debugging and the browser tests (tests/integration/0503-dashboard-browser.sh,
 * 1151-dev-token.sh).
 * Non-goals: logins, several channels per page, editing config at run time.
 */
import {SluiceClient} from './sluice-client.mjs';
import {Board} from './board.mjs';
import {SystemPanel} from './system.mjs';
import {discoverMarkets, feedIds, parseSelection} from './markets.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const STORE_KEY = 'sluice.dashboard.markets';
const TOKEN_KEY = 'sluice.dashboard.token';
const LAT_WINDOW_MS = 10000;
const LAT_MAX_SAMPLES = 5000;

async function loadConfig() {
	let cfg = {};
	try {
		const res = await fetch('config.json', {cache: 'no-store'});
		if (res.ok)
			cfg = await res.json();
	} catch (e) {
		/* Opened from elsewhere than the publisher: the parameters or this origin. */
	}
	return {
		api_url: params.get('api') ?? cfg.api_url ?? location.origin,
		publisher_url: params.get('publisher') ?? cfg.publisher_url ?? location.origin,
		metrics: cfg.metrics ?? {},
	};
}

/* The API token: from #token= (then remembered), else the remembered one. */
function takeToken() {
	const frag = new URLSearchParams(location.hash.slice(1));
	let token = null;
	try {
		if (frag.has('token')) {
			token = frag.get('token') || null;
			if (token)
				localStorage.setItem(TOKEN_KEY, token);
			else
				localStorage.removeItem(TOKEN_KEY);
		} else {
			token = localStorage.getItem(TOKEN_KEY);
		}
	} catch (e) {
		/* Private mode: the fragment's token lasts as long as the page. */
		token = frag.get('token') || null;
	}
	if (frag.has('token')) {
		frag.delete('token');
		const rest = frag.toString();
		history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
	}
	return token;
}

/* End-to-end latencies of the last ten seconds, for p50/p99 in the header. */
class LatencyWindow {
	constructor() {
		this.samples = [];
		this.count = 0;
	}
	add(ms) {
		this.count++;
		if (ms === null || !Number.isFinite(ms))
			return;
		this.samples.push([performance.now(), ms]);
		if (this.samples.length > LAT_MAX_SAMPLES)
			this.samples.splice(0, this.samples.length - LAT_MAX_SAMPLES);
	}
	quantiles() {
		const cut = performance.now() - LAT_WINDOW_MS;
		let i = 0;
		while (i < this.samples.length && this.samples[i][0] < cut)
			i++;
		if (i)
			this.samples.splice(0, i);
		if (!this.samples.length)
			return null;
		const v = this.samples.map((s) => s[1]).sort((a, b) => a - b);
		const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
		return {p50: q(0.5), p99: q(0.99)};
	}
}

function showBanner(text, kind = 'error') {
	const b = $('banner');
	b.hidden = !text;
	b.className = `banner ${kind}`;
	b.textContent = text ?? '';
}

function describeState({state, error, delayMs, transport}) {
	if (error?.status === 401 && (state === 'error' || state === 'connecting'))
		return ['error', `The control API wants a token (${error.message}). Open the dashboard link that ` +
			'`make up` printed (…/#token=…), or mint one with `sluice token`.'];
	switch (state) {
	case 'live':
		return ['live', null];
	case 'error':
		return ['error', `${error?.message ?? 'failed'} — retrying in ${(delayMs / 1000).toFixed(1)} s`];
	case 'reconnecting':
		return ['reconnecting', `Stream lost (${error?.message ?? 'unknown'}) — reconnecting in ${(delayMs / 1000).toFixed(1)} s`];
	case 'subscribed':
		return [`subscribed (${transport})`, error ? `${error.message} — retrying now` : null];
	case 'connecting':
		/* While retrying, the last failure stays on screen. */
		return ['connecting', error ? `${error.message} — retrying now` : null];
	default:
		return [state, null];
	}
}

async function main() {
	const config = await loadConfig();
	const token = takeToken();
	const auth = token ? {authorization: `Bearer ${token}`} : {};
	let saved = null;
	try {
		saved = localStorage.getItem(STORE_KEY);
	} catch (e) {
		saved = null;
	}
	let initial;
	try {
		initial = parseSelection(params.get('markets') ?? saved ?? 'all');
	} catch (e) {
		initial = {all: true, ids: []};
	}

	const client = new SluiceClient({
		apiUrl: config.api_url,
		publisherUrl: config.publisher_url,
		markets: initial.ids,
		transport: params.get('transport') ?? 'auto',
		backoff: {initialMs: 500, maxMs: 8000},
		headers: auth,
	});
	const board = new Board($('rows'), {
		empty: $('empty'),
		minFrameMs: Number(params.get('frame_ms') ?? 100),
		onRemove: (id) => client.removeMarkets([id]).catch((e) => pickError(e.message)),
	});
	const system = new SystemPanel(config.metrics);
	const lat = new LatencyWindow();
	window.sluice = {client, board, system, config, lat, hasToken: !!token};

	const save = () => {
		$('mkt-count').textContent = `${client.wanted.length} market${client.wanted.length === 1 ? '' : 's'}`;
		try {
			localStorage.setItem(STORE_KEY, client.wanted.sort().join(' '));
		} catch (e) {
			/* Private mode: nothing remembered. */
		}
	};
	const pickError = (msg) => {
		$('pick-error').hidden = !msg;
		$('pick-error').textContent = msg ?? '';
	};

	board.ensure(initial.ids);
	save();

	client.on('state', (s) => {
		document.body.dataset.state = s.state;
		const [label, banner] = describeState(s);
		$('conn-state').textContent = label;
		$('conn-transport').textContent = s.transport && s.state === 'live' ? s.transport : '';
		$('foot-channel').textContent = client.channel ? `channel ${client.channel}` : '';
		showBanner(banner, s.state === 'error' || (s.error?.code === 'api_unreachable') ? 'error' : 'warn');
	});
	client.on('snapshot', ({records}) => {
		for (const r of records)
			board.push(r, null);
	});
	client.on('update', (u) => {
		board.push(u, u.latencyMs);
		lat.add(u.latencyMs);
	});
	client.on('remove', ({markets}) => {
		board.remove(markets);
		save();
	});
	client.on('error', (e) => console.warn('sluice:', e.code, e.message));

	let lastCount = 0, lastAt = performance.now();
	setInterval(() => {
		const q = lat.quantiles();
		$('lat-p50').textContent = q ? Math.round(q.p50) : '–';
		$('lat-p99').textContent = q ? Math.round(q.p99) : '–';
		const now = performance.now();
		$('upd-rate').textContent = Math.round(((lat.count - lastCount) * 1000) / (now - lastAt));
		lastCount = lat.count;
		lastAt = now;
	}, 1000);

	const add = async (sel) => {
		pickError(null);
		let ids = sel.ids;
		if (sel.all) {
			try {
				ids = ids.concat(await discoverMarkets(config.api_url, {headers: auth}));
			} catch (e) {
				/* An API without the listing falls back to the demo feed's 50 markets. */
				ids = ids.concat(feedIds(1, 50));
				pickError(`could not list markets (${e.message}); showing m-0001..m-0050`);
			}
		}
		await client.addMarkets(ids);
		board.ensure(ids);
		save();
	};

	$('picker').addEventListener('submit', (ev) => {
		ev.preventDefault();
		let sel;
		try {
			sel = parseSelection($('pick').value);
		} catch (e) {
			pickError(e.message);
			return;
		}
		add(sel).then(() => ($('pick').value = '')).catch((e) => pickError(e.message));
	});
	$('pick-all').addEventListener('click', () => add({all: true, ids: []}).catch((e) => pickError(e.message)));
	$('pick-clear').addEventListener('click', () => {
		pickError(null);
		client.removeMarkets(client.wanted).catch((e) => pickError(e.message));
	});

	client.start();
	/* The page's channel goes with the page (the API would otherwise keep
	 * it until its TTL): a keepalive DELETE outlives the unload. */
	window.addEventListener('pagehide', () => client.release());
	system.start();
	if (initial.all) {
		/* "all" needs the API: discover once the client is live. */
		const off = client.on('state', ({state}) => {
			if (state === 'live') {
				off();
				add({all: true, ids: []}).catch((e) => pickError(e.message));
			}
		});
	}
}

main().catch((e) => showBanner(`dashboard failed to start: ${e.message}`));
