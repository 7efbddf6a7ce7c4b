// ui.js — the small pieces every view shares: htm bound to Preact, a
// polling hook, the uPlot chart, error and confirm boxes.

import { h } from 'preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import { isUnauthorized } from './api.js';

export const html = htm.bind(h);

// Call load() now and every `ms` while the component is mounted (and again
// when deps change). Returns { data, error, reload }. Polls pause while the
// token prompt is up.
export function usePoll(load, ms, deps = []) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const gen = useRef(0);
  const run = useCallback(async () => {
    if (isUnauthorized()) return;
    const mine = gen.current;
    try {
      const d = await load();
      if (mine === gen.current) { setData(d); setError(null); }
    } catch (e) {
      if (mine === gen.current) setError(e);
    }
  }, deps);
  useEffect(() => {
    gen.current++;
    setData(null);
    setError(null);
    run();
    const onToken = () => run();
    window.addEventListener('strand-token', onToken);
    const t = ms ? setInterval(run, ms) : null;
    return () => { gen.current++; clearInterval(t); window.removeEventListener('strand-token', onToken); };
  }, [run, ms]);
  return { data, error, reload: run };
}

export function ErrorBox({ error }) {
  if (!error) return null;
  const code = error.code ? html`<strong>${error.code}</strong>: ` : '';
  return html`<p class="error" role="alert">${code}${error.message}</p>`;
}

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// The x axis shows the samples, and at least the last minute (so a first
// sample is not spread over years).
function showWindow(u, t) {
  const last = t.length ? t[t.length - 1] : Date.now() / 1000;
  u.setScale('x', { min: Math.min(t.length ? t[0] : last, last - 60), max: last });
}

// A time-series chart. series: [{label, color (CSS variable), values}],
// t: seconds since the epoch; fmt formats the y values; the y axis reaches
// at least `floor` so an idle broker's ticks stay whole numbers.
export function Chart({ title, t, series, fmt, floor = 10, height = 180 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const labels = series.map((s) => s.label).join('|');
  useEffect(() => {
    const el = box.current;
    const axis = { stroke: css('--muted'), grid: { stroke: css('--grid'), width: 1 },
                   ticks: { stroke: css('--grid'), width: 1 } };
    const opts = {
      width: Math.max(200, el.clientWidth), height,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, auto: false }, y: { range: (u, min, max) => [0, Math.max(floor, max * 1.1)] } },
      axes: [axis, { ...axis, size: 90, values: (u, vals) => vals.map(fmt) }],
      series: [{}, ...series.map((s) => ({
        label: s.label, stroke: css(s.color), width: 2,
        value: (u, v) => (v == null ? '–' : fmt(v)),
      }))],
    };
    plot.current = new uPlot(opts, [t, ...series.map((s) => s.values)], el);
    showWindow(plot.current, t);
    const ro = new ResizeObserver(() => plot.current &&
      plot.current.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.current.destroy(); plot.current = null; };
  }, [labels, height, floor]);
  useEffect(() => {
    if (!plot.current) return;
    plot.current.setData([t, ...series.map((s) => s.values)]);
    showWindow(plot.current, t);
  });
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <div ref=${box} role="img" aria-label=${title}></div>
  </figure>`;
}

// A modal confirmation (<dialog>: focus kept inside, Escape cancels).
export function Confirm({ open, title, children, confirmLabel, danger, ready = true, onConfirm, onCancel }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} onCancel=${(e) => { e.preventDefault(); onCancel(); }}
      aria-labelledby="confirm-title">
    <form method="dialog" onSubmit=${(e) => { e.preventDefault(); onConfirm(); }}>
      <h2 id="confirm-title">${title}</h2>
      ${children}
      <div class="actions">
        <button type="button" onClick=${onCancel}>Cancel</button>
        <button type="submit" class=${danger ? 'danger' : 'primary'} disabled=${!ready}>${confirmLabel}</button>
      </div>
    </form>
  </dialog>`;
}

// Keep a rolling history (for "over time" charts) in a ref.
export function useHistory(max = 300) {
  const ref = useRef({ t: [], series: {} });
  const add = (tSec, values) => {
    const hst = ref.current;
    hst.t.push(tSec);
    for (const [k, arr] of Object.entries(hst.series)) if (!(k in values)) arr.push(null);
    for (const [k, v] of Object.entries(values)) {
      if (!hst.series[k]) hst.series[k] = hst.t.slice(0, -1).map(() => null);
      hst.series[k].push(v);
    }
    if (hst.t.length > max) {
      hst.t.shift();
      for (const arr of Object.values(hst.series)) arr.shift();
    }
  };
  return [ref.current, add];
}
