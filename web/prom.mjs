/* prom.mjs: Prometheus text exposition format (0.0.4) parsing and rates
 * from two scrapes, for the dashboard's system panel.
 *
 * How it fits: web/system.mjs fetches each role's /metrics (URLs from the
 * publisher's /config.json), parses it here, and derives per-second rates
 * from the difference between two scrapes of the same counter, as
 * Prometheus' rate() would over a two-sample window. Pure functions, no DOM,
 * so tests/node/web/unit.test.mjs runs them under Node.js.
 * References: Prometheus "Exposition formats" (text format 0.0.4),
 * src/core/metrics.c (what sluice renders).
 * Non-goals: OpenMetrics extras (exemplars, _created, # EOF), timestamps
 * (ignored), histogram quantiles beyond what the panel shows.
 */

/** A parse error names the line: the panel shows it instead of numbers. */
export class PromParseError extends Error {
	constructor(lineNo, message) {
		super(`metrics line ${lineNo}: ${message}`);
		this.name = 'PromParseError';
		this.lineNo = lineNo;
	}
}

function parseValue(s, lineNo) {
	switch (s) {
	case '+Inf':
	case 'Inf':
		return Infinity;
	case '-Inf':
		return -Infinity;
	case 'NaN':
		return NaN;
	}
	if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s))
		throw new PromParseError(lineNo, `bad sample value ${JSON.stringify(s)}`);
	return Number(s);
}

/* Labels `{a="x",b="y\"z"}` starting at text[i] === '{'; returns [labels, next index]. */
function parseLabels(text, i, lineNo) {
	const labels = {};
	i++;
	for (;;) {
		while (text[i] === ' ' || text[i] === ',')
			i++;
		if (text[i] === '}')
			return [labels, i + 1];
		const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
		if (!m)
			throw new PromParseError(lineNo, 'bad label name');
		const name = m[0];
		i += name.length;
		while (text[i] === ' ')
			i++;
		if (text[i] !== '=' || text[i + 1] !== '"')
			throw new PromParseError(lineNo, `label ${name} without ="value"`);
		i += 2;
		let v = '';
		for (;;) {
			if (i >= text.length)
				throw new PromParseError(lineNo, `unterminated value of label ${name}`);
			const c = text[i++];
			if (c === '"')
				break;
			if (c === '\\') {
				const e = text[i++];
				v += e === 'n' ? '\n' : e;
			} else {
				v += c;
			}
		}
		labels[name] = v;
	}
}

/**
 * Parse a /metrics body. Returns {types: Map(name -> type), samples: [{name,
 * labels, value}]}. Histogram and summary series keep their suffixed names
 * (_bucket, _sum, _count). Throws PromParseError on a malformed line.
 */
export function parsePrometheus(text) {
	const types = new Map();
	const samples = [];
	const lines = String(text).split('\n');
	for (let n = 0; n < lines.length; n++) {
		const line = lines[n].trim();
		if (!line)
			continue;
		if (line.startsWith('#')) {
			const m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
			if (m)
				types.set(m[1], m[2]);
			continue;
		}
		const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
		if (!m)
			throw new PromParseError(n + 1, `bad metric name in ${JSON.stringify(line.slice(0, 60))}`);
		const name = m[0];
		let i = name.length;
		let labels = {};
		if (line[i] === '{')
			[labels, i] = parseLabels(line, i, n + 1);
		const rest = line.slice(i).trim().split(/\s+/);
		if (!rest[0])
			throw new PromParseError(n + 1, `sample ${name} without a value`);
		samples.push({name, labels, value: parseValue(rest[0], n + 1)});
	}
	return {types, samples};
}

/** Samples of one metric name, optionally filtered by labels (exact match). */
export function select(scrape, name, where = {}) {
	return scrape.samples.filter((s) => s.name === name &&
		Object.entries(where).every(([k, v]) => s.labels[k] === v));
}

/** Sum of a metric's samples (0 when absent). */
export function sum(scrape, name, where = {}) {
	return select(scrape, name, where).reduce((a, s) => a + s.value, 0);
}

/** True when the scrape has any sample of that name. */
export function has(scrape, name) {
	return scrape.samples.some((s) => s.name === name);
}

/** First name of `candidates` present in the scrape (names or RegExps), or null. */
export function findName(scrape, candidates) {
	for (const c of candidates) {
		if (typeof c === 'string') {
			if (has(scrape, c))
				return c;
		} else {
			const s = scrape.samples.find((x) => c.test(x.name));
			if (s)
				return s.name;
		}
	}
	return null;
}

/**
 * Per-second rate of a counter between two scrapes taken at prevAt and
 * curAt (ms). A counter that went down was reset (the role restarted): the
 * new value is then the increase since the restart, as Prometheus assumes.
 * Returns null when either scrape lacks the metric or no time passed.
 */
export function rate(prev, cur, name, where = {}) {
	if (!prev || !cur || !has(prev.scrape, name) || !has(cur.scrape, name))
		return null;
	const dt = (cur.at - prev.at) / 1000;
	if (!(dt > 0))
		return null;
	const a = sum(prev.scrape, name, where);
	const b = sum(cur.scrape, name, where);
	return (b >= a ? b - a : b) / dt;
}

/** Values of a metric grouped by one label: Map(labelValue -> summed value). */
export function byLabel(scrape, name, label) {
	const out = new Map();
	for (const s of select(scrape, name)) {
		if (s.labels[label] === undefined)
			continue;
		out.set(s.labels[label], (out.get(s.labels[label]) ?? 0) + s.value);
	}
	return out;
}

/** Quantile (0..1) of a histogram from its cumulative _bucket series, with
 * linear interpolation inside the bucket; null when empty. When prev is
 * given, only the observations between the two scrapes count. */
export function histogramQuantile(cur, name, q, prev = null) {
	const buckets = new Map();
	const add = (scrape, sign) => {
		for (const s of select(scrape, `${name}_bucket`)) {
			const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
			buckets.set(le, (buckets.get(le) ?? 0) + sign * s.value);
		}
	};
	add(cur, 1);
	if (prev)
		add(prev, -1);
	const bounds = [...buckets.keys()].sort((a, b) => a - b);
	if (!bounds.length)
		return null;
	const total = buckets.get(bounds[bounds.length - 1]);
	if (!(total > 0))
		return null;
	const rank = q * total;
	let lower = 0, below = 0;
	for (const le of bounds) {
		const c = buckets.get(le);
		if (c >= rank) {
			if (le === Infinity)
				return lower;
			const inBucket = c - below;
			return inBucket > 0 ? lower + (le - lower) * ((rank - below) / inBucket) : le;
		}
		lower = le;
		below = c;
	}
	return lower;
}
