/* markets.mjs: which markets the dashboard shows: parsing what the user types
 * in the picker ("m-0001 m-0002", ranges "m-0001..m-0200", "all") and
 * finding "all" markets through the control API.
 *
 * How it fits: web/dashboard.mjs calls parseSelection() on the picker's text
 * and on ?markets=, and discoverMarkets() for "all": the API has no listing
 * endpoint (SPEC section 3), so the dashboard asks GET /v1/markets?ids= for
 * the feed's naming scheme (m-0001, m-0002, ...) in batches and keeps the ids
 * that have a state. Pure except for the injected fetch; unit-tested.
 * Non-goals: market names or metadata (sluice only knows ids and values).
 */
import {SluiceError, checkMarketIds} from './sluice-client.mjs';

/** Largest selection one range may expand to. */
export const MAX_SELECTION = 2000;

/**
 * "m-0001, m-0003..m-0005 all" -> {all: true, ids: ['m-0001', 'm-0003', 'm-0004', 'm-0005']}.
 * Throws SluiceError('bad_market') naming the bad token; nothing is partly applied.
 */
export function parseSelection(text) {
	const ids = [];
	let all = false;
	for (const tok of String(text).split(/[\s,;]+/).filter(Boolean)) {
		if (tok.toLowerCase() === 'all') {
			all = true;
			continue;
		}
		const m = /^(.*?)(\d+)\.\.(.*?)(\d+)$/.exec(tok);
		if (m) {
			const [, pa, a, pb, b] = m;
			if (pb && pb !== pa)
				throw new SluiceError(400, 'bad_market', `range ${tok}: both ends need the same prefix`);
			const from = Number(a), to = Number(b);
			if (to < from)
				throw new SluiceError(400, 'bad_market', `range ${tok} runs backwards`);
			if (to - from + 1 > MAX_SELECTION)
				throw new SluiceError(400, 'bad_market', `range ${tok} has more than ${MAX_SELECTION} markets`);
			for (let i = from; i <= to; i++)
				ids.push(pa + String(i).padStart(a.length, '0'));
			continue;
		}
		ids.push(tok);
	}
	checkMarketIds(ids);
	if (ids.length > MAX_SELECTION)
		throw new SluiceError(400, 'bad_market', `more than ${MAX_SELECTION} markets at once`);
	return {all, ids: [...new Set(ids)]};
}

/** The feed's market ids: m-0001 .. m-NNNN. */
export function feedIds(from, to) {
	const out = [];
	for (let i = from; i <= to; i++)
		out.push(`m-${String(i).padStart(4, '0')}`);
	return out;
}

/**
 * Ask the API which of m-0001..m-<limit> have a state, batch by batch, and
 * stop at the first batch with none after some were found. Returns the ids.
 * headers go with each request (Authorization: Bearer for an API with tokens).
 * Throws the API's SluiceError (unreachable, 404 when it lacks the endpoint).
 */
export async function discoverMarkets(apiUrl, {fetch: f = globalThis.fetch, limit = 1000, batch = 100,
	headers = {}} = {}) {
	const found = [];
	for (let start = 1; start <= limit; start += batch) {
		const ids = feedIds(start, Math.min(limit, start + batch - 1));
		let res;
		try {
			res = await f(`${apiUrl}/v1/markets?ids=${ids.join(',')}`, {cache: 'no-store', headers});
		} catch (e) {
			throw new SluiceError(0, 'api_unreachable', `control API ${apiUrl} unreachable: ${e.message}`);
		}
		if (!res.ok)
			throw new SluiceError(res.status, `http_${res.status}`, `GET /v1/markets: ${res.status}`);
		const body = await res.json();
		const got = (body?.markets ?? []).filter((m) => m && typeof m.market === 'string' && m.offset !== undefined &&
			m.offset !== null).map((m) => m.market);
		if (!got.length && found.length)
			break;
		found.push(...got);
	}
	return found;
}
