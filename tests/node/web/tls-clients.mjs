/* tls-clients.mjs: the Node half of tests/integration/1152-tls-ws-chromium.sh:
 * TLS handshakes with sluice from Node's `ws` client and from Chromium.
 *
 * How it fits: the .sh wrapper makes a CA and a certificate for 127.0.0.1,
 * an NSS database that trusts the CA, and starts api, reducer, feed and
 * publisher over TLS; it passes CA_FILE, API_URL and PUB_URL (https://),
 * NSS_HOME (a $HOME whose .pki/nssdb trusts the CA) and EMPTY_HOME (one
 * that does not). `ws` and playwright-core come from .state/node/web
 * (scripts/install.d/web.sh); the API is called with node:https and the CA.
 * Non-goals: the TLS library's own corner cases (versions, ciphers: OpenSSL's
 * tests), client certificates.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {CHROMIUM, CHROMIUM_ARGS, ROOT} from './browser.mjs';
import {waitFor} from './system.mjs';

const STATE = process.env.SLUICE_STATE ?? path.join(ROOT, '.state');
const require = createRequire(path.join(STATE, 'node/web/package.json'));
const WebSocket = require('ws');
const {chromium} = require('playwright-core');

const ca = fs.readFileSync(process.env.CA_FILE);
const apiUrl = process.env.API_URL;
const pubUrl = process.env.PUB_URL;
const wsUrl = pubUrl.replace(/^https:/, 'wss:');
let step = 0;
const ok = (what) => console.log(`ok ${++step}: ${what}`);

/* A JSON request to the API over https, the CA verified. */
function api(method, p, body) {
	return new Promise((resolve, reject) => {
		const req = https.request(`${apiUrl}${p}`, {method, ca, headers: {'content-type': 'application/json'}}, (res) => {
			const protocol = res.socket.getProtocol();
			let text = '';
			res.on('data', (d) => (text += d));
			res.on('end', () => resolve({status: res.statusCode, body: text ? JSON.parse(text) : null, protocol}));
		});
		req.on('error', reject);
		req.setTimeout(10000, () => req.destroy(new Error('no answer in 10 s')));
		req.end(body === undefined ? undefined : JSON.stringify(body));
	});
}

/* ---- Node's ws ---- */
{
	/* Without the CA the handshake fails on the certificate. */
	const err = await new Promise((resolve) => {
		const ws = new WebSocket(`${wsUrl}/v1/stream/00000000-0000-4000-8000-000000000000`);
		ws.on('open', () => resolve(null));
		ws.on('error', resolve);
	});
	assert.ok(err, 'ws connected without trusting the CA');
	assert.match(`${err.code} ${err.message}`, /CERT|certificate/i);
	ok(`ws without the CA refuses the certificate (${err.code})`);

	const made = await api('POST', '/v1/channels', {markets: ['m-0001', 'm-0002']});
	assert.equal(made.status, 201, JSON.stringify(made.body));
	const ch = made.body.channel;
	ok(`channel created over https (${made.protocol})`);

	const ws = new WebSocket(`${wsUrl}/v1/stream/${ch}`, {ca});
	const msgs = [];
	ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
	const opened = await new Promise((resolve, reject) => {
		ws.on('open', () => resolve(ws._socket));
		ws.on('error', reject);
	});
	assert.equal(opened.authorized, true, 'the certificate was verified');
	const proto = opened.getProtocol();
	assert.match(proto, /^TLSv1\.[23]$/);
	await waitFor('subscribed over wss', 20, () => msgs.some((m) => m.type === 'subscribed'));
	const begun = await api('POST', `/v1/channels/${ch}/begin`);
	assert.equal(begun.status, 202, JSON.stringify(begun.body));
	await waitFor('a snapshot over wss', 20, () => msgs.some((m) => m.type === 'snapshot'));
	await waitFor('updates over wss', 20, () => msgs.filter((m) => m.type === 'update').length >= 3);
	const markets = new Set(msgs.filter((m) => m.type === 'update').map((m) => m.market));
	assert.ok([...markets].every((m) => m === 'm-0001' || m === 'm-0002'), `only subscribed markets: ${[...markets]}`);
	ws.close(1000);
	await new Promise((resolve) => ws.on('close', resolve));
	ok(`ws over ${proto}, the CA verified: subscribed, snapshot, ${msgs.filter((m) => m.type === 'update').length} updates`);
	await api('DELETE', `/v1/channels/${ch}`);
}

/* ---- Chromium ---- */
async function launch(home) {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60000,
		env: {...process.env, HOME: home},
	});
	const page = context.pages()[0] ?? await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	return {page, errors, close: async () => {
		await context.close().catch(() => {});
		fs.rmSync(profile, {recursive: true, force: true});
	}};
}

async function waitLive(page, seconds) {
	try {
		await waitFor('the page to go live', seconds, () => page.evaluate(() => document.body.dataset.state === 'live'));
	} catch (e) {
		const seen = await page.evaluate(() => `state ${document.body.dataset.state}, banner "${
			document.getElementById('banner').textContent}"`).catch((x) => x.message);
		throw new Error(`${e.message}; the page shows ${seen}`);
	}
}

const pricesShown = (page) => page.$$eval('#rows tr .price', (ps) => ps.map((p) => p.textContent)
	.filter((t) => /^-?\d+\.\d{4}$/.test(t)));

{
	const b = await launch(process.env.NSS_HOME);
	try {
		const sockets = [];
		b.page.on('websocket', (ws) => sockets.push(ws.url()));
		const res = await b.page.goto(`${pubUrl}/?markets=m-0001..m-0005`);
		assert.equal(res.status(), 200);
		const sec = await res.securityDetails();
		assert.ok(sec, 'no TLS details: the page did not come over TLS');
		assert.match(sec.protocol, /^TLS 1\.[23]$/);
		assert.match(sec.issuer, /sluice test CA/);
		await waitLive(b.page, 40);
		assert.equal(await b.page.$eval('#conn-transport', (e) => e.textContent), 'websocket');
		assert.ok(sockets.length >= 1 && sockets.every((u) => u.startsWith(`${wsUrl}/v1/stream/`)), `wss only: ${sockets}`);
		await waitFor('prices on the board', 30, async () => (await pricesShown(b.page)).length >= 3);
		const before = (await pricesShown(b.page)).join(' ');
		await waitFor('prices to move', 30, async () => (await pricesShown(b.page)).join(' ') !== before);
		ok(`Chromium trusts the CA (${sec.protocol}, issuer "${sec.issuer}"): dashboard over https, stream over wss, prices move`);

		await b.page.goto(`${pubUrl}/?markets=m-0001..m-0003&transport=sse`);
		await waitLive(b.page, 40);
		assert.equal(await b.page.$eval('#conn-transport', (e) => e.textContent), 'sse');
		await waitFor('prices over SSE', 30, async () => (await pricesShown(b.page)).length >= 2);
		ok('Chromium: SSE over https goes live too');
		assert.deepEqual(b.errors, [], 'no uncaught errors in the page');
	} finally {
		await b.close();
	}
}

{
	const b = await launch(process.env.EMPTY_HOME);
	try {
		await assert.rejects(b.page.goto(`${pubUrl}/`), /ERR_CERT_AUTHORITY_INVALID/);
		ok('Chromium without the CA refuses the page (net::ERR_CERT_AUTHORITY_INVALID)');
	} finally {
		await b.close();
	}
}
console.log('tls-clients ok');
