// metrics.js — the broker's throughput, sampled every second from
// /metrics (Prometheus text, api/metrics.c): records and bytes appended
// (in), records fetched and response bytes (out), and the per-partition
// gauges (log end offset, size) from which per-topic rates follow.
// One sampler for the whole page: it starts with the first subscriber and
// keeps sampling, so the charts have their history when a view comes back.

import { get, isUnauthorized } from './api.js';

export const HISTORY = 300;   // seconds of history kept for the charts

// Parse the text format into [{name, labels, value}] (comments skipped).
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function summarize(samples) {
  const s = { recIn: 0, bytesIn: 0, recOut: 0, bytesOut: 0, topics: {} };
  for (const { name, labels, value } of samples) {
    switch (name) {
      case 'strand_records_appended_total': s.recIn = value; break;
      case 'strand_bytes_appended_total': s.bytesIn = value; break;
      case 'strand_records_fetched_total': s.recOut = value; break;
      case 'strand_http_response_bytes_total': s.bytesOut = value; break;
      case 'strand_partition_log_end_offset':
      case 'strand_partition_log_start_offset':
      case 'strand_partition_size_bytes': {
        const t = s.topics[labels.topic] ||= { leo: 0, lso: 0, size: 0 };
        if (name === 'strand_partition_size_bytes') t.size += value;
        else if (name === 'strand_partition_log_start_offset') t.lso += value;
        else t.leo += value;
        break;
      }
    }
  }
  return s;
}

const state = {
  t: [], recIn: [], recOut: [], bytesIn: [], bytesOut: [],
  topics: {},      // name -> { size, leo, lso (sums over partitions), rate, byteRate }
  error: null,
  last: null,
};
const listeners = new Set();
let timer = null;

const perSecond = (a, b, dt) => (dt > 0 && b >= a ? (b - a) / dt : 0);

function push(key, v) {
  state[key].push(v);
  if (state[key].length > HISTORY) state[key].shift();
}

async function sample() {
  if (isUnauthorized()) return;
  const now = performance.now();
  let cur;
  try {
    cur = summarize(parseMetrics(await get('/metrics')));
    state.error = null;
  } catch (e) {
    state.error = e;
    listeners.forEach((fn) => fn(state));
    return;
  }
  const prev = state.last;
  if (prev) {
    const dt = (now - prev.at) / 1000;
    push('t', Date.now() / 1000);
    push('recIn', perSecond(prev.recIn, cur.recIn, dt));
    push('bytesIn', perSecond(prev.bytesIn, cur.bytesIn, dt));
    push('recOut', perSecond(prev.recOut, cur.recOut, dt));
    push('bytesOut', perSecond(prev.bytesOut, cur.bytesOut, dt));
    for (const [name, t] of Object.entries(cur.topics)) {
      const p = prev.topics[name];
      t.rate = p ? perSecond(p.leo, t.leo, dt) : 0;
      t.byteRate = p ? perSecond(p.size, t.size, dt) : 0;
    }
  }
  state.topics = cur.topics;
  state.last = { ...cur, at: now };
  listeners.forEach((fn) => fn(state));
}

export function subscribe(fn) {
  listeners.add(fn);
  if (!timer) {
    sample();
    timer = setInterval(sample, 1000);
  }
  fn(state);
  return () => listeners.delete(fn);
}
