// A small time-series chart on a canvas: a moving window of samples, lines and filled bands,
// horizontal reference lines, a y axis with round ticks. No dependencies.

export class TimeChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {object} opts
   *   series: [{key, color, fill?: bool, width?: number}]
   *   band: {low, high, color}?  area between two series (e.g. indexed..accepted = lag)
   *   thresholds: [{value, color, label, below?: label under the line}]
   *   yMax: fixed top of the y axis (else from the data), yFormat: value -> label
   *   windowMs: how much history is shown
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.opts = { windowMs: 60_000, thresholds: [], yFormat: compact, ...opts };
    this.samples = [];
    this._resize = new ResizeObserver(() => this.draw());
    this._resize.observe(canvas);
  }

  push(t, values) {
    this.samples.push({ t, ...values });
    const cutoff = t - this.opts.windowMs - 2000;
    while (this.samples.length && this.samples[0].t < cutoff) this.samples.shift();
    this.canvas.dataset.points = String(this.samples.length);
    this.draw();
  }

  clear() {
    this.samples = [];
    this.canvas.dataset.points = '0';
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const { series, band, thresholds, windowMs, yFormat } = this.opts;
    const pad = { l: 46, r: 8, t: 8, b: 18 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    const now = this.samples.length ? this.samples[this.samples.length - 1].t : performance.now();
    const t0 = now - windowMs;

    let top = this.opts.yMax;
    let bottom = 0;
    if (top === undefined) {
      let max = 0;
      let min = Infinity;
      for (const s of this.samples) {
        for (const { key } of series) {
          if (s[key] === undefined || s[key] === null) continue;
          max = Math.max(max, s[key]);
          min = Math.min(min, s[key]);
        }
      }
      top = niceStep(Math.max(max, this.opts.yMinTop ?? 1) / 4) * 4;
    }
    const x = (t) => pad.l + ((t - t0) / windowMs) * pw;
    const y = (v) => pad.t + ph - ((Math.min(v, top) - bottom) / (top - bottom || 1)) * ph;

    // grid and y labels
    g.font = '11px system-ui, -apple-system, "Segoe UI", sans-serif';
    g.textBaseline = 'middle';
    g.textAlign = 'right';
    const ticks = 4;
    for (let i = 0; i <= ticks; i++) {
      const v = bottom + ((top - bottom) * i) / ticks;
      const yy = Math.round(y(v)) + 0.5;
      g.strokeStyle = i === 0 ? '#cbd5e1' : '#eef2f7';
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(pad.l, yy);
      g.lineTo(pad.l + pw, yy);
      g.stroke();
      g.fillStyle = '#64748b';
      g.fillText(yFormat(v), pad.l - 6, yy);
    }
    // x labels: seconds ago
    g.textAlign = 'center';
    g.textBaseline = 'alphabetic';
    const secs = windowMs / 1000;
    const step = secs % 4 === 0 ? secs / 4 : secs / 3;
    for (let s = 0; s <= secs; s += step) {
      const xx = pad.l + pw - (s * 1000 * pw) / windowMs;
      g.fillStyle = '#94a3b8';
      g.fillText(s === 0 ? 'now' : `-${Math.round(s)}s`, Math.min(Math.max(xx, pad.l + 12), pad.l + pw - 12), h - 4);
    }

    g.save();
    g.beginPath();
    g.rect(pad.l, pad.t, pw, ph);
    g.clip();

    const visible = this.samples.filter((s) => s.t >= t0 - 1000);
    if (band && visible.length > 1) {
      g.fillStyle = band.color;
      g.beginPath();
      visible.forEach((s, i) => (i ? g.lineTo(x(s.t), y(s[band.high])) : g.moveTo(x(s.t), y(s[band.high]))));
      for (let i = visible.length - 1; i >= 0; i--) g.lineTo(x(visible[i].t), y(visible[i][band.low]));
      g.closePath();
      g.fill();
    }
    for (const sr of series) {
      const pts = visible.filter((s) => s[sr.key] !== undefined && s[sr.key] !== null);
      if (!pts.length) continue;
      if (sr.fill) {
        g.fillStyle = sr.color + '22';
        g.beginPath();
        g.moveTo(x(pts[0].t), y(bottom));
        for (const s of pts) g.lineTo(x(s.t), y(s[sr.key]));
        g.lineTo(x(pts[pts.length - 1].t), y(bottom));
        g.closePath();
        g.fill();
      }
      g.strokeStyle = sr.color;
      g.lineWidth = sr.width ?? 1.75;
      g.lineJoin = 'round';
      g.beginPath();
      pts.forEach((s, i) => (i ? g.lineTo(x(s.t), y(s[sr.key])) : g.moveTo(x(s.t), y(s[sr.key]))));
      g.stroke();
      if (sr.markers) {
        g.fillStyle = sr.color;
        for (const s of pts) {
          if (s[sr.markers]) {
            g.beginPath();
            g.arc(x(s.t), y(s[sr.key]), 2.5, 0, Math.PI * 2);
            g.fill();
          }
        }
      }
    }
    g.restore();

    for (const th of thresholds) {
      const yy = Math.round(y(th.value)) + 0.5;
      g.strokeStyle = th.color;
      g.setLineDash([4, 3]);
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(pad.l, yy);
      g.lineTo(pad.l + pw, yy);
      g.stroke();
      g.setLineDash([]);
      if (th.label) {
        g.fillStyle = th.color;
        g.textAlign = 'left';
        g.textBaseline = th.below ? 'top' : 'bottom';
        g.fillText(th.label, pad.l + 4, th.below ? yy + 2 : yy - 1);
      }
    }
  }
}

export function compact(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1).replace(/\.0$/, '');
}

/** The smallest round step (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) that is at least v (v > 0). */
function niceStep(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v * (1 - 1e-9)) return m * p;
  return 10 * p;
}
