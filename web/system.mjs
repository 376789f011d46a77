/* system.mjs: the dashboard's system panel: scrapes every role's /metrics
 * (Prometheus text) every two seconds and shows records/s into the reducers,
 * messages/s out of the publishers, open stream connections, consumer lag
 * per partition, which reducer owns which partitions, and CPU/RSS per role.
 *
 * How it fits: web/dashboard.mjs gives it the {name: url} map of
 * /config.json's `metrics`; the roles answer cross-origin because scripts/up.sh
 * passes the dashboard's origin to their --cors-origin. Rates come from two
 * consecutive scrapes (web/prom.mjs). summarize() is pure and unit-tested.
 * Metric names are those of docs/metrics.md; a few alternatives are accepted
 * so that the panel keeps working while a role renames a series.
 * Non-goals: alerting, history beyond two scrapes, charts of the rates.
 */
import {byLabel, findName, histogramQuantile, parsePrometheus, rate, sum} from './prom.mjs';

/* Ordered candidates per quantity (exact names first, then patterns). */
export const NAMES = {
	recordsIn: ['sluice_reducer_records_total', 'sluice_reducer_records_in_total', 'sluice_reducer_messages_in_total',
		/^sluice_reducer_.*(records|messages)_(in|consumed)?_?total$/, /^sluice_.*records_(in|consumed)_total$/],
	messagesOut: ['sluice_publisher_messages_out_total', 'sluice_publisher_messages_sent_total',
		'sluice_publisher_frames_out_total', /^sluice_publisher_.*(messages|frames)_(out|sent)_total$/,
		/^sluice_.*messages_out_total$/],
	connections: ['sluice_publisher_connections', 'sluice_publisher_clients', /^sluice_publisher_.*connections$/,
		/^sluice_(ws|sse)_connections$/],
	lag: ['sluice_reducer_consumer_lag', 'sluice_reducer_lag', 'sluice_consumer_lag', /^sluice_.*lag(_records)?$/],
	/* A gauge per partition (label partition, value 1) names the partitions;
	 * an unlabelled one (sluice_reducer_partitions_owned) only counts them. */
	e2e: ['sluice_publisher_e2e_latency_ms'],
	assigned: ['sluice_reducer_partitions_owned', 'sluice_reducer_partition_assigned', 'sluice_reducer_partitions_assigned',
		/^sluice_reducer_.*(assigned|owned)$/],
};

/** What kind of role a metrics source is, from its name in /config.json. */
export function roleKind(name) {
	const n = name.toLowerCase();
	for (const k of ['reducer', 'publisher', 'feed', 'api', 'rest-proxy', 'restproxy'])
		if (n.includes(k))
			return k === 'restproxy' ? 'rest-proxy' : k;
	return 'other';
}

/* Partitions a reducer owns: {ids, count}. ids come from the partition
 * labels of its assignment gauge (value > 0), else of its lag gauge (a
 * reducer reports lag only for what it owns); count from the unlabelled
 * gauge when that is all there is. */
function ownedPartitions(scrape) {
	const an = findName(scrape, NAMES.assigned);
	let ids = [];
	if (an) {
		const m = byLabel(scrape, an, 'partition');
		if (m.size)
			ids = [...m].filter(([, v]) => v > 0).map(([p]) => p);
	}
	if (!ids.length) {
		const ln = findName(scrape, NAMES.lag);
		ids = ln ? [...byLabel(scrape, ln, 'partition').keys()] : [];
	}
	ids.sort((a, b) => Number(a) - Number(b));
	const count = ids.length || (an ? sum(scrape, an) : null);
	return {ids, count};
}

/**
 * sources: [{name, prev: {at, scrape} | null, cur: {at, scrape} | null, error}]
 * Returns {recordsIn, messagesOut, connections, totalLag, e2e: {p50, p99} of
 * the publisher's histogram (ms, last interval) or null, lag: Map(partition
 * -> {lag, owner}) (empty when the reducers only report totals),
 * reducers: [{name, up, partitions, count, lag}], roles: [{name, kind, up,
 * cpuPct, rssBytes, uptimeS, error}]}. Rates are null until two scrapes.
 */
export function summarize(sources, nowMs = Date.now()) {
	const out = {recordsIn: null, messagesOut: null, connections: null, totalLag: null, e2e: null, lag: new Map(),
		reducers: [], roles: []};
	const addTo = (key, v) => {
		if (v !== null && v !== undefined && Number.isFinite(v))
			out[key] = (out[key] ?? 0) + v;
	};
	for (const src of sources) {
		const kind = roleKind(src.name);
		const up = !!src.cur && !src.error;
		const role = {name: src.name, kind, up, cpuPct: null, rssBytes: null, uptimeS: null, error: src.error ?? null};
		out.roles.push(role);
		if (!up)  {
			if (kind === 'reducer')
				out.reducers.push({name: src.name, up: false, partitions: [], count: null, lag: null});
			continue;
		}
		const s = src.cur.scrape;
		const cpu = rate(src.prev, src.cur, 'process_cpu_seconds_total');
		role.cpuPct = cpu === null ? null : cpu * 100;
		role.rssBytes = findName(s, ['process_resident_memory_bytes']) ? sum(s, 'process_resident_memory_bytes') : null;
		const start = sum(s, 'process_start_time_seconds');
		role.uptimeS = start > 0 ? Math.max(0, nowMs / 1000 - start) : null;
		if (kind === 'reducer') {
			const inName = findName(s, NAMES.recordsIn);
			if (inName)
				addTo('recordsIn', rate(src.prev, src.cur, inName));
			const {ids, count} = ownedPartitions(s);
			const ln = findName(s, NAMES.lag);
			const lag = ln ? sum(s, ln) : null;
			out.reducers.push({name: src.name, up: true, partitions: ids, count, lag});
			if (ln) {
				for (const [p, v] of byLabel(s, ln, 'partition'))
					out.lag.set(p, {lag: v, owner: src.name});
				addTo('totalLag', lag);
			}
		}
		if (kind === 'publisher') {
			const outName = findName(s, NAMES.messagesOut);
			if (outName)
				addTo('messagesOut', rate(src.prev, src.cur, outName));
			const cn = findName(s, NAMES.connections);
			if (cn)
				addTo('connections', sum(s, cn));
			/* The publisher's own end-to-end histogram (Kafka timestamp to
			 * socket write), over the last scrape interval when there is one. */
			const hn = findName(s, NAMES.e2e.map((n) => `${n}_bucket`));
			if (hn && !out.e2e) {
				const base = hn.slice(0, -'_bucket'.length);
				const p50 = histogramQuantile(s, base, 0.5, src.prev?.scrape ?? null);
				const p99 = histogramQuantile(s, base, 0.99, src.prev?.scrape ?? null);
				if (p50 !== null)
					out.e2e = {p50, p99};
			}
		}
	}
	out.lag = new Map([...out.lag].sort((a, b) => Number(a[0]) - Number(b[0])));
	return out;
}

/* ---- the panel (DOM) ---- */

function fmtRate(v) {
	if (v === null)
		return '–';
	if (v >= 10000)
		return `${(v / 1000).toFixed(1)}k`;
	return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function fmtMs(v) {
	return v < 10 ? v.toFixed(1) : v.toFixed(0);
}

function fmtInt(v) {
	return v === null ? '–' : Math.round(v).toLocaleString('en-US');
}

function fmtUptime(s) {
	if (s === null)
		return '';
	if (s < 120)
		return `${Math.round(s)}s`;
	if (s < 7200)
		return `${Math.round(s / 60)}m`;
	return `${(s / 3600).toFixed(1)}h`;
}

export class SystemPanel {
	constructor(metrics, doc = document, {intervalMs = 2000, timeoutMs = 1500} = {}) {
		this.sources = Object.entries(metrics ?? {}).map(([name, url]) => ({name, url, prev: null, cur: null, error: null}));
		this.doc = doc;
		this.intervalMs = intervalMs;
		this.timeoutMs = timeoutMs;
		this.timer = null;
		this.last = null;
	}

	start() {
		if (!this.sources.length) {
			this.doc.getElementById('sys-reducers').innerHTML = '<p class="muted">no metrics URLs in /config.json</p>';
			return;
		}
		const tick = async () => {
			await this.scrape();
			this.render();
			this.timer = setTimeout(tick, this.intervalMs);
		};
		tick();
	}

	stop() {
		clearTimeout(this.timer);
	}

	async scrape() {
		await Promise.all(this.sources.map(async (src) => {
			const ctl = new AbortController();
			const t = setTimeout(() => ctl.abort(), this.timeoutMs);
			try {
				const res = await fetch(src.url, {cache: 'no-store', signal: ctl.signal});
				if (!res.ok)
					throw new Error(`HTTP ${res.status}`);
				const scrape = parsePrometheus(await res.text());
				src.prev = src.cur;
				src.cur = {at: Date.now(), scrape};
				src.error = null;
			} catch (e) {
				src.error = ctl.signal.aborted ? 'timeout' : e.message;
				src.prev = null;
				src.cur = null;
			} finally {
				clearTimeout(t);
			}
		}));
	}

	render() {
		const d = this.doc;
		const sm = summarize(this.sources);
		this.last = sm;
		d.getElementById('sys-in').textContent = fmtRate(sm.recordsIn);
		d.getElementById('sys-out').textContent = fmtRate(sm.messagesOut);
		d.getElementById('sys-conn').textContent = fmtInt(sm.connections);
		d.getElementById('sys-lag').textContent = fmtInt(sm.totalLag);
		d.getElementById('sys-e2e').textContent = sm.e2e ? `${fmtMs(sm.e2e.p50)} / ${fmtMs(sm.e2e.p99)}` : '–';

		const reds = d.getElementById('sys-reducers');
		reds.replaceChildren(...(sm.reducers.length ? sm.reducers.map((r) => {
			const row = d.createElement('div');
			row.className = 'red';
			const name = d.createElement('span');
			name.className = 'name' + (r.up ? '' : ' down');
			name.textContent = r.name;
			const parts = d.createElement('span');
			parts.className = 'parts';
			const n = r.count ?? r.partitions.length;
			parts.textContent = !r.up ? 'down' : `${n} partition${n === 1 ? '' : 's'}` +
				(r.partitions.length ? `: ${r.partitions.join(' ')}` : '');
			const lag = d.createElement('span');
			lag.className = 'lag';
			lag.textContent = r.up && r.lag !== null ? `lag ${fmtInt(r.lag)}` : '';
			row.append(name, parts, lag);
			return row;
		}) : [Object.assign(d.createElement('p'), {className: 'muted', textContent: 'no reducer metrics'})]));

		/* Bars per partition when the reducers label their lag, else per reducer. */
		const bars = d.getElementById('sys-lagbars');
		const series = sm.lag.size ? [...sm.lag]
			: sm.reducers.filter((r) => r.up && r.lag !== null).map((r) => [r.name.replace(/^reducer-?/, 'r'), {lag: r.lag, owner: r.name}]);
		d.getElementById('sys-lag-title').textContent = sm.lag.size ? 'Consumer lag per partition' : 'Consumer lag per reducer';
		const maxLag = Math.max(1, ...series.map(([, x]) => x.lag));
		bars.replaceChildren(...series.map(([p, {lag, owner}]) => {
			const b = d.createElement('div');
			b.className = 'lagbar' + (lag > 1000 ? ' hot' : '');
			b.title = sm.lag.size ? `partition ${p}: lag ${lag} (${owner})` : `${owner}: lag ${lag}`;
			const bar = d.createElement('div');
			bar.className = 'bar';
			const fill = d.createElement('div');
			fill.className = 'fill';
			fill.style.height = `${Math.round((lag / maxLag) * 100)}%`;
			bar.append(fill);
			const label = d.createElement('span');
			label.textContent = p;
			b.append(bar, label);
			return b;
		}));

		const roles = d.getElementById('sys-roles');
		roles.replaceChildren(...sm.roles.map((r) => {
			const tr = d.createElement('tr');
			const cells = r.up
				? [r.name, r.cpuPct === null ? '–' : `${r.cpuPct.toFixed(0)}%`,
					r.rssBytes === null ? '–' : `${(r.rssBytes / 1048576).toFixed(0)} MB`, fmtUptime(r.uptimeS)]
				: [r.name, '', '', r.error ? `down` : ''];
			cells.forEach((text, i) => {
				const td = d.createElement('td');
				td.textContent = text;
				if (i > 0)
					td.className = 'num';
				if (!r.up && i === 3) {
					td.className = 'num bad';
					td.title = r.error ?? '';
				}
				tr.append(td);
			});
			return tr;
		}));
	}
}
