// format.js — numbers, sizes, rates and times as people read them.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n) {
  if (n == null || !isFinite(n)) return '–';
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(n < 10 ? 2 : 1) : Math.round(n)} ${units[i]}`;
}

export function count(n) {
  if (n == null || !isFinite(n)) return '–';
  return Math.round(n).toLocaleString('en');
}

export function rate(n) {
  if (n == null || !isFinite(n)) return '–';
  if (n >= 1000) return `${(n / 1000).toFixed(n >= 10000 ? 0 : 1)}k/s`;
  return `${n >= 10 || n === 0 ? Math.round(n) : n.toFixed(1)}/s`;
}

export function byteRate(n) {
  return n == null || !isFinite(n) ? '–' : `${bytes(n)}/s`;
}

export function time(ms) {
  if (ms == null || ms < 0) return '–';
  const d = new Date(ms);
  const pad = (x, w = 2) => String(x).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// A record's key or value for display: JSON pretty-printed, strings as
// they are, base64 marked as such.
export function payload(v, encoding) {
  if (encoding === 'base64') return { text: v, note: 'base64' };
  if (v === null || v === undefined) return { text: 'null', note: '' };
  if (typeof v === 'string') return { text: v, note: '' };
  return { text: JSON.stringify(v, null, 2), note: 'json' };
}
