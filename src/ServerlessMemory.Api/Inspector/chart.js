// A memory's strength from now until its forgetAt, as a small inline SVG with the threshold line.
// Between accesses strength only falls, exponentially at the memory type's hourly rate r, and it
// equals the threshold θ at forgetAt (docs/decay.md), so S(t) = θ · e^(r · (forgetAt − t)). The
// service's health answer gives θ and the rates. A memory that never decays (identity, rate 0)
// stays flat at importance + access bonus.
import { number, relative, time } from './dom.js';

const svg = 'http://www.w3.org/2000/svg';
const width = 220;
const height = 56;
const left = 4;
const right = 4;
const top = 6;
const bottom = 14;

function el(tag, attributes = {}, text) {
  const node = document.createElementNS(svg, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The strength curve of an archive item, or null when the decay settings are unknown. */
export function strengthChart(item, decay, now = Date.now()) {
  if (!decay) return null;
  const theta = decay.threshold;
  const rate = decay.rates?.[item.type] ?? 0;
  const forgetAt = item.forgetAt ? Date.parse(item.forgetAt) : NaN;
  const never = !(rate > 0) || Number.isNaN(forgetAt);
  const end = never ? now + 24 * 3600e3 : Math.max(forgetAt, now + 1);
  const hours = t => (t - now) / 3600e3;
  const strength = never
    ? () => item.importance + Math.min(decay.accessBonusMax, decay.accessBonusPerAccess * item.accessCount)
    : t => theta * Math.exp(rate * (end - t) / 3600e3);
  const s0 = strength(now);
  const yMax = Math.max(s0, theta) * 1.1;
  const x = t => left + (width - left - right) * (hours(t) / hours(end));
  const y = s => top + (height - top - bottom) * (1 - s / yMax);

  const label = never
    ? `Strength ${number(s0)}, never forgotten (rate 0); the threshold is ${theta}.`
    : `Strength ${number(s0)} now, falling to the threshold ${theta} ${relative(item.forgetAt, now)}, at ${time(item.forgetAt)}.`;
  const chart = el('svg', { class: 'strength', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label });
  chart.append(el('title', {}, label));
  const points = [];
  for (let i = 0; i <= 48; i++) {
    const t = now + (end - now) * (i / 48);
    points.push(`${x(t).toFixed(1)},${y(strength(t)).toFixed(1)}`);
  }
  chart.append(el('line', { class: 'axis', x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
  chart.append(el('line', { class: 'threshold', x1: left, y1: y(theta), x2: width - right, y2: y(theta) }));
  chart.append(el('polyline', { class: 'curve', points: points.join(' ') }));
  chart.append(el('text', { class: 'tick', x: left, y: height - 2 }, 'now'));
  chart.append(el('text', { class: 'tick', x: width - right, y: height - 2, 'text-anchor': 'end' },
    never ? 'never forgotten' : `forgotten ${relative(item.forgetAt, now)}`));
  chart.append(el('text', { class: 'tick', x: width - right, y: top + 2, 'text-anchor': 'end' }, number(s0, 2)));
  return chart;
}
