/* board.mjs: the dashboard's live odds board: one row per market with its
 * price, the change since the board first saw it, a sparkline, where the
 * value came from (partition:offset) and the update's end-to-end latency.
 *
 * How it fits: web/dashboard.mjs feeds it the records that SluiceClient
 * applied (already deduplicated by offset). Updates are only recorded when
 * they arrive; the DOM is touched once per animation frame for the rows that
 * changed since the last frame (the newest record per market wins), so 200
 * markets updating several times a second cost a few dozen text writes per
 * frame, and nothing at all while the tab is hidden. A changed price flashes
 * up (green) or down (red): two alternating, identical animations restart
 * the flash without forcing a layout. Sparklines are canvases redrawn at most
 * four times a second each.
 * References: HTML "Update the rendering" (requestAnimationFrame timing).
 * Non-goals: sorting by column, editing, virtual scrolling (a few hundred
 * rows are fine without it).
 */

const SPARK_POINTS = 90;
const SPARK_MIN_MS = 250;

/** The number to show for a market value: the feed writes
 * {"market","price","ts"}, the seed's producer a bare number or a numeric
 * string; anything else has no price (null). */
export function priceOf(value) {
	if (typeof value === 'number')
		return Number.isFinite(value) ? value : null;
	if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
		return Number(value);
	if (value && typeof value === 'object') {
		for (const k of ['price', 'value', 'odds'])
			if (typeof value[k] === 'number' && Number.isFinite(value[k]))
				return value[k];
	}
	return null;
}

function fmtPrice(p) {
	return p === null ? '—' : p.toFixed(4);
}

function fmtChange(d) {
	if (d === null || !Number.isFinite(d))
		return '';
	return (d > 0 ? '+' : d < 0 ? '−' : '±') + Math.abs(d).toFixed(4);
}

function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls)
		e.className = cls;
	if (text !== undefined)
		e.textContent = text;
	return e;
}

export class Board {
	/** tbody: the table body to fill; onRemove(market) when a row's × is pressed. */
	constructor(tbody, {onRemove, empty, minFrameMs = 0} = {}) {
		this.minFrameMs = minFrameMs;
		this.lastFlush = -Infinity;
		this.tbody = tbody;
		this.onRemove = onRemove;
		this.empty = empty;
		this.rows = new Map();
		this.pending = new Map();
		this.sparkDirty = new Set();
		this.scheduled = false;
		this.frames = 0;
		this.updates = 0;
		this.flushCb = (t) => this.flush(t);
		/* Rows out of sight are not touched: their newest record waits in
		 * `hidden` and is written when the row scrolls into view. */
		this.hidden = new Map();
		this.observer = typeof IntersectionObserver === 'function'
			? new IntersectionObserver((entries) => this.onVisibility(entries), {rootMargin: '200px 0px'})
			: null;
		this.updateEmpty();
	}

	onVisibility(entries) {
		for (const e of entries) {
			const id = e.target.dataset.market;
			const r = this.rows.get(id);
			if (!r)
				continue;
			r.visible = e.isIntersecting;
			if (r.visible && this.hidden.has(id)) {
				this.pending.set(id, this.hidden.get(id));
				this.hidden.delete(id);
				this.sparkDirty.add(id);
				this.schedule();
			}
		}
	}

	schedule() {
		if (!this.scheduled) {
			this.scheduled = true;
			requestAnimationFrame(this.flushCb);
		}
	}

	/** Make rows for these markets (kept sorted by id) before data arrives. */
	ensure(ids) {
		for (const id of ids)
			this.row(id);
		this.updateEmpty();
	}

	remove(ids) {
		for (const id of ids) {
			const r = this.rows.get(id);
			if (!r)
				continue;
			this.observer?.unobserve(r.tr);
			r.tr.remove();
			this.rows.delete(id);
			this.hidden.delete(id);
			this.pending.delete(id);
			this.sparkDirty.delete(id);
		}
		this.updateEmpty();
	}

	updateEmpty() {
		if (this.empty)
			this.empty.hidden = this.rows.size > 0;
	}

	row(id) {
		let r = this.rows.get(id);
		if (r)
			return r;
		const tr = el('tr');
		tr.dataset.market = id;
		const name = el('td', 'mkt', id);
		const priceTd = el('td', 'num');
		const price = el('span', 'price', '—');
		priceTd.append(price);
		const chg = el('td', 'num chg');
		const sparkTd = el('td', 'spark');
		const canvas = el('canvas');
		canvas.width = 112;
		canvas.height = 28;
		sparkTd.append(canvas);
		const src = el('td', 'num src');
		const lat = el('td', 'num lat');
		const rm = el('td', 'rm');
		const btn = el('button', 'x', '×');
		btn.title = `stop watching ${id}`;
		btn.setAttribute('aria-label', `remove ${id}`);
		btn.addEventListener('click', () => this.onRemove?.(id));
		rm.append(btn);
		tr.append(name, priceTd, chg, sparkTd, src, lat, rm);
		r = {tr, price, chg, canvas, src, lat, first: null, last: null, hist: [], flip: false, drawnAt: 0, count: 0,
			visible: !this.observer};
		/* Insert in id order: rows are few, a linear scan is fine. */
		let before = null;
		for (const other of this.tbody.children) {
			if (other.dataset.market > id) {
				before = other;
				break;
			}
		}
		this.tbody.insertBefore(tr, before);
		this.rows.set(id, r);
		this.observer?.observe(tr);
		return r;
	}

	/** Record an applied record; the DOM follows at the next frame. */
	push(rec, latencyMs = null) {
		const p = priceOf(rec.value);
		const r = this.rows.get(rec.market) ?? this.row(rec.market);
		if (p !== null) {
			if (r.first === null)
				r.first = p;
			r.hist.push(p);
			if (r.hist.length > SPARK_POINTS)
				r.hist.shift();
			this.sparkDirty.add(rec.market);
		}
		r.count++;
		this.updates++;
		if (!r.visible) {
			this.hidden.set(rec.market, {rec, p, latencyMs});
			return;
		}
		this.pending.set(rec.market, {rec, p, latencyMs});
		this.schedule();
	}

	flush(now) {
		this.scheduled = false;
		/* A frame budget: past a few hundred updates a second, writing the
		 * DOM at every display frame costs more than anyone can read. */
		if (now - this.lastFlush < this.minFrameMs) {
			this.schedule();
			return;
		}
		this.lastFlush = now;
		this.frames++;
		for (const [id, {rec, p, latencyMs}] of this.pending) {
			const r = this.rows.get(id);
			if (!r)
				continue;
			const prev = r.last;
			r.last = p;
			r.price.textContent = fmtPrice(p);
			if (p !== null && r.first !== null) {
				const d = p - r.first;
				r.chg.textContent = fmtChange(d);
				r.chg.className = `num chg ${d > 0 ? 'pos' : d < 0 ? 'neg' : ''}`;
			}
			if (prev !== null && p !== null && p !== prev) {
				r.flip = !r.flip;
				r.price.className = `price ${p > prev ? 'up' : 'down'}${r.flip ? '1' : '2'}`;
			}
			r.src.textContent = `${rec.partition ?? '?'}:${rec.offset}`;
			r.lat.textContent = latencyMs === null ? '' : `${Math.max(0, Math.round(latencyMs))}`;
		}
		this.pending.clear();
		let again = false;
		for (const id of this.sparkDirty) {
			const r = this.rows.get(id);
			if (!r) {
				this.sparkDirty.delete(id);
				continue;
			}
			if (!r.visible) {
				this.sparkDirty.delete(id);
				continue;
			}
			if (now - r.drawnAt < SPARK_MIN_MS) {
				again = true;
				continue;
			}
			r.drawnAt = now;
			this.sparkDirty.delete(id);
			drawSpark(r.canvas, r.hist);
		}
		if (again)
			this.schedule();
	}
}

function drawSpark(canvas, hist) {
	const ctx = canvas.getContext('2d');
	const w = canvas.width, h = canvas.height;
	ctx.clearRect(0, 0, w, h);
	if (hist.length < 2)
		return;
	let lo = Infinity, hi = -Infinity;
	for (const v of hist) {
		if (v < lo)
			lo = v;
		if (v > hi)
			hi = v;
	}
	const span = hi - lo || 1;
	const step = w / (SPARK_POINTS - 1);
	const x0 = w - (hist.length - 1) * step;
	const y = (v) => h - 3 - ((v - lo) / span) * (h - 6);
	const rising = hist[hist.length - 1] >= hist[0];
	ctx.lineWidth = 1.5;
	ctx.lineJoin = 'round';
	ctx.strokeStyle = rising ? '#3ddc97' : '#ff5d73';
	ctx.beginPath();
	ctx.moveTo(x0, y(hist[0]));
	for (let i = 1; i < hist.length; i++)
		ctx.lineTo(x0 + i * step, y(hist[i]));
	ctx.stroke();
	ctx.lineTo(x0 + (hist.length - 1) * step, h);
	ctx.lineTo(x0, h);
	ctx.closePath();
	ctx.fillStyle = rising ? 'rgba(61,220,151,0.10)' : 'rgba(255,93,115,0.10)';
	ctx.fill();
}
