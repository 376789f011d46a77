/* browser.mjs: Debian's Chromium, headless, driven by playwright-core, for
 * the dashboard tests and screenshots.
 *
 * How it fits: tests/integration/0503-dashboard-browser.sh and
 * shoot.mjs import launchBrowser(); playwright-core comes from
 * .state/node/web (scripts/install.d/web.sh), the browser is /usr/bin/chromium
 * (never a downloaded one). Each launch gets a new empty profile directory,
 * removed again by close().
 * Non-goals: other browsers, headed runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../../..');
const STATE = process.env.SLUICE_STATE ?? path.join(ROOT, '.state');
export const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Why the browser cannot run here, or null when it can. */
export function browserMissing() {
	if (!fs.existsSync(CHROMIUM))
		return `${CHROMIUM} is missing (scripts/install.d/web.sh installs Debian's chromium)`;
	if (!fs.existsSync(path.join(STATE, 'node/web/node_modules/playwright-core/package.json')))
		return 'playwright-core is missing from .state/node/web (scripts/install.d/web.sh installs it)';
	return null;
}

/** Launch Chromium with a fresh profile; returns {context, page, close()}. */
export async function launchBrowser({width = 1440, height = 900, mobile = false} = {}) {
	const require = createRequire(path.join(STATE, 'node/web/package.json'));
	const {chromium} = require('playwright-core');
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_ARGS,
		viewport: {width, height},
		deviceScaleFactor: mobile ? 2 : 1,
		isMobile: mobile,
		hasTouch: mobile,
		timeout: 60000,
	});
	const page = context.pages()[0] ?? await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	return {
		context, page, errors,
		async close() {
			await context.close().catch(() => {});
			fs.rmSync(profile, {recursive: true, force: true});
		},
	};
}
