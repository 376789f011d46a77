/* system.mjs: the sluice roles on free ports, for the Node and browser tests
 * of the web area (0502, 0503), with stop/restart of single roles.
 *
 * How it fits: the test's shell wrapper sources tests/integration/lib.sh,
 * which starts (or reuses) Kafka + Redis and exports SLUICE_BIN (the
 * ASan+UBSan build), SLUICE_KAFKA_BROKERS and SLUICE_REDIS_URL. This module
 * creates unique topics, starts `sluice <role> --port P ...` processes with a
 * unique Redis prefix and consumer group, waits for each /readyz, and stops
 * them with SIGTERM, recording any exit status other than 0 (LeakSanitizer
 * exits 23), so a test fails on an unclean shutdown. Role logs go to
 * .state/test-logs/<test>-<role>.log.
 * Non-goals: three-broker stacks, Kafka restarts (other areas test those).
 */
import {spawn, execFile} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {ROOT} from './browser.mjs';

export function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const {port} = s.address();
			s.close(() => resolve(port));
		});
	});
}

export function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

/** Poll cond() every 100 ms until it is truthy or `seconds` pass. */
export async function waitFor(what, seconds, cond) {
	const deadline = Date.now() + seconds * 1000;
	let last;
	for (;;) {
		try {
			last = await cond();
			if (last)
				return last;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline)
			throw new Error(`timed out after ${seconds}s waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
		await sleep(100);
	}
}

function run(cmd, args, opts = {}) {
	return new Promise((resolve, reject) => {
		execFile(cmd, args, {timeout: 60000, ...opts}, (err, stdout, stderr) => {
			if (err)
				reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`));
			else
				resolve(stdout);
		});
	});
}

export class System {
	constructor(name) {
		this.name = name;
		this.bin = process.env.SLUICE_BIN ?? path.join(ROOT, 'build-asan/sluice');
		this.brokers = process.env.SLUICE_KAFKA_BROKERS;
		this.redisUrl = process.env.SLUICE_REDIS_URL;
		if (!this.brokers || !this.redisUrl)
			throw new Error('SLUICE_KAFKA_BROKERS and SLUICE_REDIS_URL must be set (run through tests/run-all.sh)');
		const tag = `${name}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
		this.dataTopic = `web-markets-${tag}`;
		this.commandTopic = `web-commands-${tag}`;
		this.prefix = `sluice-${tag}:`;
		this.group = `web-reducers-${tag}`;
		this.roles = new Map();
		this.badExits = [];
		this.logDir = path.join(process.env.SLUICE_STATE ?? path.join(ROOT, '.state'), 'test-logs');
		fs.mkdirSync(this.logDir, {recursive: true});
		/* A test killed by its timeout must not leave roles behind. */
		const killAll = () => {
			for (const r of this.roles.values())
				if (r.proc && r.proc.exitCode === null && r.proc.signalCode === null)
					r.proc.kill('SIGKILL');
		};
		process.on('exit', killAll);
		for (const sig of ['SIGTERM', 'SIGINT'])
			process.on(sig, () => {
				console.error(`FAIL: ${sig} before the test finished`);
				process.exit(1);
			});
	}

	/* The settings each role takes (a role refuses flags it does not know). */
	kafka() {
		return ['--bootstrap-server', this.brokers, '--data-topic', this.dataTopic, '--command-topic', this.commandTopic];
	}
	redis() {
		return ['--redis-url', this.redisUrl, '--redis-prefix', this.prefix];
	}
	common() {
		return [...this.kafka(), ...this.redis()];
	}

	async createTopics(partitions = 12) {
		for (const [topic, n] of [[this.dataTopic, partitions], [this.commandTopic, 1]]) {
			await run(this.bin, ['topics', '--create', '--if-not-exists', '--topic', topic, '--partitions', String(n),
				'--replication-factor', '1', '--bootstrap-server', this.brokers]);
		}
	}

	url(name, p = '') {
		return `http://127.0.0.1:${this.roles.get(name).port}${p}`;
	}

	/** Start `sluice <role>` as `name`; args(port map) may depend on other roles' ports. */
	async start(name, role, args = [], {port, ready = true} = {}) {
		const r = this.roles.get(name) ?? {name, role, args, port: port ?? await freePort()};
		r.args = args;
		const log = fs.openSync(path.join(this.logDir, `${this.name}-${name}.log`), 'a');
		r.proc = spawn(this.bin, [role, '--port', String(r.port), ...args], {stdio: ['ignore', log, log]});
		fs.closeSync(log);
		r.exited = new Promise((resolve) => r.proc.on('exit', (code, signal) => resolve({code, signal})));
		this.roles.set(name, r);
		if (ready)
			await waitFor(`${name} /readyz on port ${r.port}`, 40, async () => {
				const early = await Promise.race([r.exited, sleep(0).then(() => null)]);
				if (early)
					throw new Error(`${name} exited early (${JSON.stringify(early)}), see ${this.name}-${name}.log`);
				const res = await fetch(this.url(name, '/readyz'));
				return res.status === 200;
			});
		return r;
	}

	/** SIGTERM and wait; an exit status other than 0 is recorded as a failure. */
	async stop(name) {
		const r = this.roles.get(name);
		if (!r?.proc || r.proc.exitCode !== null || r.proc.signalCode !== null) {
			if (r?.proc && r.proc.exitCode !== 0)
				this.badExits.push(`${name} had exited with ${r.proc.exitCode ?? r.proc.signalCode}`);
			return;
		}
		r.proc.kill('SIGTERM');
		const res = await Promise.race([r.exited, sleep(30000).then(() => null)]);
		if (!res) {
			r.proc.kill('SIGKILL');
			await r.exited;
			this.badExits.push(`${name} did not exit within 30 s of SIGTERM`);
		} else if (res.code !== 0) {
			this.badExits.push(`${name} exited with ${res.code ?? res.signal} after SIGTERM (log ${this.name}-${name}.log)`);
		}
		r.proc = null;
	}

	/** Wait until the named reducers own `partitions` between them and each
	 * owns at least one: their consumer group has settled. Stopping a member
	 * in the middle of its first join is a different test. */
	async reducersSettled(names, partitions = 12) {
		await waitFor(`reducers ${names.join(', ')} to share ${partitions} partitions`, 60, async () => {
			let total = 0;
			for (const n of names) {
				const text = await (await fetch(this.url(n, '/metrics'))).text();
				const m = /^sluice_reducer_partitions_owned (\d+)/m.exec(text);
				if (!m || Number(m[1]) < 1)
					return false;
				total += Number(m[1]);
			}
			return total === partitions;
		});
	}

	async restart(name) {
		const r = this.roles.get(name);
		await this.stop(name);
		await this.start(name, r.role, r.args, {port: r.port});
	}

	/** Stop every role (reverse start order); returns the unclean exits. */
	async down() {
		for (const name of [...this.roles.keys()].reverse())
			await this.stop(name);
		return this.badExits;
	}
}

/** Produce keyed records to the data topic with kcat: [[key, value], ...]. */
export function produce(sys, records) {
	return new Promise((resolve, reject) => {
		const p = spawn('kcat', ['-P', '-b', sys.brokers, '-t', sys.dataTopic, '-K', '|', '-X', 'linger.ms=0',
			/* Kafka's own partitioner, as the feed uses: the API finds a
			 * market's partition (and so its state in Redis) by that hash. */
			'-X', 'partitioner=murmur2_random'],
			{stdio: ['pipe', 'ignore', 'pipe']});
		let err = '';
		p.stderr.on('data', (d) => (err += d));
		const t = setTimeout(() => p.kill('SIGKILL'), 30000);
		p.on('exit', (code) => {
			clearTimeout(t);
			code === 0 ? resolve() : reject(new Error(`kcat produce failed (${code}): ${err}`));
		});
		p.stdin.end(records.map(([k, v]) => `${k}|${typeof v === 'string' ? v : JSON.stringify(v)}\n`).join(''));
	});
}

/** Run a test's main against a started system, stop every role, and exit:
 * 1 when main threw or a role did not exit 0 on SIGTERM, else 0. */
export async function runAgainst(sys, main) {
	let failed = null;
	try {
		await main();
	} catch (e) {
		failed = e;
	}
	const badExits = await sys.down();
	if (failed) {
		console.error(`FAIL: ${failed.stack ?? failed.message}`);
		process.exit(1);
	}
	if (badExits.length) {
		console.error(`FAIL: unclean shutdown: ${badExits.join('; ')}`);
		process.exit(1);
	}
	console.log('ok: all roles exited 0 on SIGTERM');
}
