// Every element of the page is built here. Memory content is untrusted (users and models write it):
// it only ever goes in as text nodes or textContent, never as markup, and h() refuses the
// properties that would parse markup or set inline style (the list below).
const forbidden = new Set(['innerHTML', 'outerHTML', 'style', 'srcdoc']);

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (forbidden.has(name)) throw new Error(`h(): ${name} is not allowed`);
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'text') el.textContent = String(value);
    else if (name === 'value') el.value = String(value);
    else if (name === 'checked' || name === 'disabled' || name === 'hidden' || name === 'readOnly') el[name] = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A term and its description, for a <dl>. */
export const pair = (term, ...description) => [h('dt', { text: term }), h('dd', {}, ...description)];

export const byId = id => document.getElementById(id);

/** 2026-03-01 08:00:00 UTC: the API's times are UTC, and so is what the page shows. */
export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "in 7.7 hours", "in 3.4 days", "3 minutes ago". */
export function relative(iso, now = Date.now()) {
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms) / 60000;
  const [n, unit] = abs < 90 ? [abs, 'minutes'] : abs < 60 * 48 ? [abs / 60, 'hours'] : [abs / 1440, 'days'];
  const text = `${n < 10 ? n.toFixed(1) : Math.round(n)} ${unit}`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export const number = (x, digits = 3) => (typeof x === 'number' ? x.toFixed(digits) : '');

/** Characters as the reader counts them (Unicode scalar values), not UTF-16 code units. */
export const chars = s => [...(s ?? '')].length;

let ids = 0;
export const uid = prefix => `${prefix}-${++ids}`;
