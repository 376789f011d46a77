/* dev-token-browser.mjs: the browser half of tests/integration/1151-dev-token.sh:
 * the dashboard that `make up` printed, against an API that wants tokens.
 *
 * How it fits: the .sh wrapper runs scripts/up.sh and passes the printed
 * dashboard link (…/#token=<JWT>) as DASH_URL. Here headless Chromium
 * opens it and checks what a person would see: the page goes live with
 * prices, the token leaves the address bar, every API request carried
 * Authorization: Bearer <that token>; a reload of the bare address keeps
 * working (the token is remembered); a fresh browser without the token
 * shows the error state with a banner that says how to get one, and the
 * API was asked without a token. The WebSocket carries the channel's stream
 * token (make up's publisher requires it).
 * Non-goals: the stream's own token (the publisher's), other browsers.
 */
import assert from 'node:assert/strict';
import {launchBrowser} from './browser.mjs';
import {waitFor} from './system.mjs';

const url = process.env.DASH_URL;
const apiUrl = process.env.API_URL;
assert.ok(url && /#token=[\w-]+\.[\w-]+\.[\w-]+$/.test(url), `DASH_URL with a token expected, got ${url}`);
const token = url.split('#token=')[1];
const bare = url.split('#')[0];

let step = 0;
const ok = (what) => console.log(`ok ${++step}: ${what}`);

async function waitState(page, states, seconds) {
	try {
		await waitFor(`page state in [${states}]`, seconds, () =>
			page.evaluate((s) => s.includes(document.body.dataset.state), states));
	} catch (e) {
		const seen = await page.evaluate(() => `state ${document.body.dataset.state}, banner "${
			document.getElementById('banner').textContent}"`).catch((x) => x.message);
		throw new Error(`${e.message}; the page shows ${seen}`);
	}
}

/* The Authorization header of every request the page sent to the API's
 * /v1 routes (allHeaders: what went on the wire, not the provisional set);
 * the system panel's /metrics needs none. */
function watchApi(page) {
	const seen = [];
	page.on('requestfinished', async (req) => {
		if (req.url().startsWith(`${apiUrl}/v1/`) && req.method() !== 'OPTIONS')
			seen.push((await req.allHeaders().catch(() => ({}))).authorization ?? `none ${req.method()} ${req.url().slice(apiUrl.length)} ${req.resourceType()}`);
	});
	page.on('requestfailed', (req) => {
		if (req.url().startsWith(`${apiUrl}/v1/`) && req.method() !== 'OPTIONS')
			seen.push(`failed ${req.method()} ${req.url().slice(apiUrl.length)}`);
	});
	return seen;
}

const prices = (page) => page.$$eval('#rows tr .price', (ps) => ps.map((p) => p.textContent));

const b = await launchBrowser();
try {
	const page = b.page;
	const seen = watchApi(page);
	const sockets = [];
	page.on('websocket', (ws) => sockets.push(ws.url()));
	await page.goto(`${bare}?markets=m-0001..m-0005${url.slice(bare.length)}`);
	await waitState(page, ['live'], 40);
	await waitFor('prices', 30, async () => (await prices(page)).filter((p) => /^-?\d+\.\d{4}$/.test(p)).length >= 3);
	assert.equal(await page.evaluate(() => window.sluice.hasToken), true);
	await waitFor('the page\'s API requests', 10, () => seen.length >= 2);
	assert.ok(seen.every((h) => h === `Bearer ${token}`), `every API request carried the token: ${JSON.stringify(seen)}`);
	ok(`the printed link goes live; ${seen.length} API requests, each with Authorization: Bearer <the token>`);
	assert.ok(sockets.length >= 1 && sockets.every((u) => /\/v1\/stream\/[\w-]+\?token=[\w-]+\.[\w-]+\.[\w-]+$/.test(u)),
		`the WebSocket carries the channel's stream token: ${sockets}`);
	ok('the stream opened with ?token=<the stream token>');
	assert.ok(!(await page.evaluate(() => location.href)).includes('token='), 'the token left the address bar');
	ok('the token is no longer in the address bar');

	seen.length = 0;
	await page.goto(`${bare}?markets=m-0001..m-0003`);
	await waitState(page, ['live'], 40);
	// watchApi records a request once its headers are read back, which
	// may come after the page already shows live: wait for it.
	await waitFor('the reloaded page\'s API requests', 10, () => seen.length >= 1);
	assert.ok(seen.every((h) => h === `Bearer ${token}`), `remembered: ${JSON.stringify(seen)}`);
	ok('the bare address works again: the token was remembered');
	assert.deepEqual(b.errors, [], 'no uncaught errors in the page');
} finally {
	await b.close();
}

const fresh = await launchBrowser();
try {
	const page = fresh.page;
	const seen = watchApi(page);
	await page.goto(`${bare}?markets=m-0001`);
	await waitState(page, ['error'], 30);
	await waitFor('the banner to say how to get a token', 10, async () =>
		/wants a token.*make up/.test(await page.$eval('#banner', (e) => (e.hidden ? '' : e.textContent))));
	await waitFor('the API request without a token', 10, () => seen.length >= 1);
	assert.ok(seen.every((h) => h.startsWith('none ')), `asked without a token: ${JSON.stringify(seen)}`);
	ok(`without the token: error state, banner "${(await page.$eval('#banner', (e) => e.textContent)).slice(0, 80)}…"`);
} finally {
	await fresh.close();
}
console.log('dev-token-browser ok');
