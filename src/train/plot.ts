/**
 * A self-contained SVG plot of the training curves: train loss per log line, and the train and
 * val losses of each evaluation, against the iteration. No fonts, scripts or external files:
 * any browser or `rsvg-convert` renders it.
 *
 * @module
 */

/** An (iteration, loss) point. */
export type LossPoint = [number, number];

/** The three curves of the plot, each a list of (iteration, loss) points in iteration order. */
export interface LossSeries {
  /** Training loss of each logged step. */
  train: LossPoint[];
  /** Training-split loss of each evaluation. */
  evalTrain: LossPoint[];
  /** Validation loss of each evaluation. */
  evalVal: LossPoint[];
}

/** Plot size and the most points drawn per curve (longer curves are bucket-averaged). */
export interface PlotOptions {
  /** Width in px (default 800). */
  width?: number;
  /** Height in px (default 450). */
  height?: number;
  /** Title (default "babyllama training loss"). */
  title?: string;
  /** Most points per train-loss curve (default 1000). */
  maxPoints?: number;
}

/** "Nice" tick step (1, 2 or 5 times a power of ten) for about `n` ticks over `span`. */
function _niceStep(span: number, n: number): number {
  const raw = span / Math.max(1, n);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Tick values covering [lo, hi] with a nice step, and the widened range they span. */
export function niceTicks(
  lo: number,
  hi: number,
  n = 6,
): { ticks: number[]; lo: number; hi: number } {
  if (!(hi > lo)) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const step = _niceStep(hi - lo, n);
  const a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = a; v <= b + step * 1e-6; v += step) ticks.push(Number(v.toPrecision(12)));
  return { ticks, lo: a, hi: b };
}

function _fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(4))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(4))}k`;
  return String(Number(v.toPrecision(4)));
}

function _esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot" }[c]};`);
}

/** Bucket-averages (x, y) points down to at most `max` points, keeping the first and last. */
export function downsample(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const out: [number, number][] = [];
  const per = points.length / max;
  for (let i = 0; i < max; i++) {
    const a = Math.floor(i * per), b = Math.floor((i + 1) * per);
    let sx = 0, sy = 0;
    for (let j = a; j < b; j++) {
      sx += points[j][0];
      sy += points[j][1];
    }
    out.push([sx / (b - a), sy / (b - a)]);
  }
  return out;
}

/**
 * Renders the loss curves as an SVG document (the training log builds the series from its
 * records: `lossSeries` in log.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossPlotSvg } from "./plot.ts";
 *
 * const svg = lossPlotSvg({ train: [[1, 10.2], [2, 9.9]], evalTrain: [[0, 10.4]], evalVal: [[0, 10.4]] });
 * assert.match(svg, /^<svg /);
 * ```
 */
export function lossPlotSvg(series: LossSeries, opts: PlotOptions = {}): string {
  const W = opts.width ?? 800, H = opts.height ?? 450;
  const title = opts.title ?? "babyllama training loss";
  const { train, evalTrain: evTrain, evalVal: evVal } = series;
  const trainPts = downsample(train, opts.maxPoints ?? 1000);
  const all = [...train, ...evTrain, ...evVal];
  const m = { left: 64, right: 20, top: 40, bottom: 52 };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${_esc(title)}</text>`,
  ];
  if (all.length === 0) {
    out.push(
      `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#666">no data yet</text>`,
      "</svg>",
    );
    return out.join("\n") + "\n";
  }
  const xs = niceTicks(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])), 8);
  const ys = niceTicks(Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1])), 6);
  const X = (v: number) => m.left + ((v - xs.lo) / (xs.hi - xs.lo)) * pw;
  const Y = (v: number) => m.top + ph - ((v - ys.lo) / (ys.hi - ys.lo)) * ph;
  const f = (v: number) => v.toFixed(1);
  // grid, ticks and labels
  for (const t of xs.ticks) {
    out.push(
      `<line x1="${f(X(t))}" y1="${m.top}" x2="${f(X(t))}" y2="${m.top + ph}" stroke="#e5e5e5"/>`,
      `<text x="${f(X(t))}" y="${m.top + ph + 16}" text-anchor="middle">${_fmt(t)}</text>`,
    );
  }
  for (const t of ys.ticks) {
    out.push(
      `<line x1="${m.left}" y1="${f(Y(t))}" x2="${m.left + pw}" y2="${f(Y(t))}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${f(Y(t) + 4)}" text-anchor="end">${_fmt(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">iteration</text>`,
    `<text x="16" y="${m.top + ph / 2}" text-anchor="middle" ` +
      `transform="rotate(-90 16 ${m.top + ph / 2})">loss</text>`,
  );
  const line = (pts: [number, number][], color: string, width: number) => {
    if (pts.length === 0) return;
    const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${f(X(x))} ${f(Y(y))}`).join("");
    out.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}" ` +
        `stroke-linejoin="round"/>`,
    );
  };
  const dots = (pts: [number, number][], color: string) => {
    for (const [x, y] of pts) {
      out.push(`<circle cx="${f(X(x))}" cy="${f(Y(y))}" r="3" fill="${color}"/>`);
    }
  };
  const C = { train: "#7aa6d6", evTrain: "#e08a2b", evVal: "#c0392b" };
  line(trainPts, C.train, 1.2);
  line(evTrain, C.evTrain, 1.8);
  dots(evTrain, C.evTrain);
  line(evVal, C.evVal, 1.8);
  dots(evVal, C.evVal);
  // legend
  const items: [string, string, boolean][] = [
    ["train loss (per log line)", C.train, train.length > 0],
    ["train loss (eval)", C.evTrain, evTrain.length > 0],
    ["val loss (eval)", C.evVal, evVal.length > 0],
  ];
  const shown = items.filter((i) => i[2]);
  const lx = m.left + pw - 190, ly = m.top + 8;
  out.push(
    `<rect x="${lx}" y="${ly}" width="182" height="${shown.length * 18 + 8}" fill="white" ` +
      `fill-opacity="0.85" stroke="#bbb"/>`,
  );
  shown.forEach(([label, color], i) => {
    const y = ly + 16 + i * 18;
    out.push(
      `<line x1="${lx + 8}" y1="${y - 4}" x2="${lx + 30}" y2="${y - 4}" stroke="${color}" ` +
        `stroke-width="2.5"/>`,
      `<text x="${lx + 36}" y="${y}">${_esc(label)}</text>`,
    );
  });
  const last = evVal.at(-1);
  if (last) {
    out.push(
      `<text x="${m.left + 6}" y="${m.top + 16}" fill="${C.evVal}">` +
        `val ${last[1].toFixed(4)} @ ${_fmt(last[0])}</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}
