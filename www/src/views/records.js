// records.js — one partition's records: browse from an offset or a time,
// page back and forth, keys, headers, timestamps and JSON values
// pretty-printed; a live tail through Server-Sent Events; a produce form.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post, enc, streamUrl } from '../api.js';
import { html, usePoll, ErrorBox } from '../ui.js';
import * as fmt from '../format.js';

const TAIL_MAX = 200;   // live-tail records kept on screen

function RecordRows({ records }) {
  return records.map((r) => {
    const k = fmt.payload(r.key, r.key_encoding);
    const v = fmt.payload(r.value, r.value_encoding);
    const headers = Object.entries(r.headers || {});
    return html`<tr key=${r.offset} class="record">
      <th scope="row" class="num">${r.offset}</th>
      <td class="ts">${fmt.time(r.timestamp)}</td>
      <td class="key"><code>${k.text}</code>${k.note === 'base64' && html` <small>(base64)</small>`}</td>
      <td>${headers.length ? html`<dl class="headers">${headers.map(([n, hv]) =>
        html`<div><dt>${n}</dt><dd>${hv}</dd></div>`)}</dl>` : html`<span class="muted">–</span>`}</td>
      <td class="value"><pre>${v.text}</pre>${v.note === 'base64' && html`<small>(base64)</small>`}</td>
    </tr>`;
  });
}

function RecordTable({ records, id, caption }) {
  return html`<div class="table-wrap"><table id=${id} class="records">
    <caption>${caption}</caption>
    <thead><tr><th scope="col" class="num">Offset</th><th scope="col">Timestamp</th>
      <th scope="col">Key</th><th scope="col">Headers</th><th scope="col">Value</th></tr></thead>
    <tbody><${RecordRows} records=${records} /></tbody></table></div>`;
}

// "name: value" lines -> {name: value}
function parseHeaders(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (line.trim() && i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

function Produce({ topic, partitions, configs, onProduced }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [headers, setHeaders] = useState('');
  const [partition, setPartition] = useState('');
  const [result, setResult] = useState('');
  const [error, setError] = useState(null);
  const json = (configs.value_format || 'json') === 'json';
  const keyJson = (configs.key_format || 'json') === 'json';
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setResult('');
    const rec = {};
    try {
      rec.value = json ? JSON.parse(value) : value;
    } catch (err) {
      setError(new Error(`the value is not JSON (this topic's value_format is json): ${err.message}`));
      return;
    }
    if (key !== '') {
      try { rec.key = keyJson ? JSON.parse(key) : key; } catch { rec.key = key; }
    }
    const hs = parseHeaders(headers);
    if (Object.keys(hs).length) rec.headers = hs;
    const path = partition === '' ? `/v1/topics/${enc(topic)}/records`
      : `/v1/topics/${enc(topic)}/partitions/${partition}/records`;
    try {
      const res = await post(path, { records: [rec] });
      const o = res.offsets[0];
      setResult(`Stored at partition ${o.partition}, offset ${o.offset}.`);
      onProduced(o);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card form" onSubmit=${submit} aria-labelledby="h-produce">
    <h2 id="h-produce">Produce a record</h2>
    <div class="grid3">
      <label>Key ${keyJson ? '(JSON, or text)' : `(${configs.key_format})`}
        <input name="key" value=${key} onInput=${(e) => setKey(e.target.value)} /></label>
      <label>Partition
        <select name="produce-partition" value=${partition} onChange=${(e) => setPartition(e.target.value)}>
          <option value="">by key (or spread)</option>
          ${partitions.map((p) => html`<option value=${p.partition}>${p.partition}</option>`)}
        </select></label>
    </div>
    <label>Value ${json ? '(JSON)' : `(${configs.value_format})`}
      <textarea name="value" rows="4" required value=${value}
        placeholder=${json ? '{"hello": "world"}' : ''}
        onInput=${(e) => setValue(e.target.value)}></textarea></label>
    <label><span>Headers (one <code>name: value</code> per line)</span>
      <textarea name="headers" rows="2" value=${headers}
        onInput=${(e) => setHeaders(e.target.value)}></textarea></label>
    <${ErrorBox} error=${error} />
    <p role="status" class="notice">${result}</p>
    <div class="actions"><button type="submit" class="primary">Produce</button></div>
  </form>`;
}

function LiveTail({ topic, partition }) {
  const [on, setOn] = useState(false);
  const [records, setRecords] = useState([]);
  const [status, setStatus] = useState('');
  const src = useRef(null);
  useEffect(() => {
    if (!on) return undefined;
    const path = `/v1/topics/${enc(topic)}/partitions/${partition}/records?offset=latest`;
    const es = new EventSource(streamUrl(path));
    src.current = es;
    setStatus('connecting…');
    es.onopen = () => setStatus('live: new records appear here as they are appended');
    es.onerror = () => setStatus('reconnecting…');
    es.onmessage = (ev) => {
      const r = JSON.parse(ev.data);
      setRecords((old) => [r, ...old].slice(0, TAIL_MAX));
    };
    return () => { es.close(); src.current = null; };
  }, [on, topic, partition]);
  useEffect(() => { setRecords([]); }, [topic, partition]);
  return html`<section class="card" aria-labelledby="h-tail">
    <h2 id="h-tail">Live tail of partition ${partition}</h2>
    <button aria-pressed=${on} onClick=${() => setOn(!on)}>${on ? 'Stop live tail' : 'Start live tail'}</button>
    <span class="muted" role="status"> ${on ? status : ''}</span>
    ${records.length > 0 && html`<${RecordTable} id="tail-table" records=${records}
      caption=${`Newest first, the last ${TAIL_MAX} at most`} />`}
  </section>`;
}

function parseQuery(q) {
  return Object.fromEntries(new URLSearchParams(q || ''));
}

export function Records({ topic, query }) {
  const q = parseQuery(query);
  const [partition, setPartition] = useState(Number(q.partition || 0));
  const [mode, setMode] = useState(q.time ? 'time' : q.offset ? 'offset' : 'earliest');
  const [offsetInput, setOffsetInput] = useState(q.offset || '0');
  const [timeInput, setTimeInput] = useState(q.time || '');
  const [pageSize, setPageSize] = useState(20);
  const [page, setPage] = useState(null);        // {offset, records, next_offset, hw, lso}
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const meta = usePoll(() => get(`/v1/topics/${enc(topic)}`), 2000, [topic]);
  const t = meta.data;

  // Only the newest load may set the page: an older answer arriving late
  // (the first load of the default page size, say) must not replace it.
  const loads = useRef(0);
  const load = async (offset) => {
    const mine = ++loads.current;
    setLoading(true);
    setError(null);
    try {
      const res = await get(`/v1/topics/${enc(topic)}/partitions/${partition}/records` +
        `?offset=${offset}&max_records=${pageSize}`);
      if (mine === loads.current) setPage({ offset, ...res });
    } catch (e) {
      if (mine === loads.current) setError(e);
    } finally {
      if (mine === loads.current) setLoading(false);
    }
  };
  // Where the chosen start points: an offset within [log start, high watermark].
  const start = async () => {
    const p = t.partitions.find((x) => x.partition === partition);
    const lso = p.log_start_offset, hw = p.high_watermark;
    const clamp = (o) => Math.min(Math.max(o, lso), hw);
    if (mode === 'earliest') return lso;
    if (mode === 'latest') return clamp(hw - pageSize);
    if (mode === 'offset') return clamp(Number(offsetInput) || 0);
    const ms = new Date(timeInput).getTime();
    if (!isFinite(ms)) throw new Error('choose a date and time');
    const r = await get(`/v1/topics/${enc(topic)}/partitions/${partition}/offsets?timestamp=${ms}`);
    return clamp(r.offset);
  };
  const show = async (e) => {
    if (e) e.preventDefault();
    try { await load(await start()); } catch (err) { setError(err); }
  };
  useEffect(() => { if (t) show(); }, [t === null, topic, partition, pageSize]);

  const lso = page ? page.log_start_offset : 0;
  const older = page ? Math.max(lso, page.offset - pageSize) : 0;
  return html`<section aria-labelledby="h-records">
    <p class="crumbs"><a href="#/topics">Topics</a> / <a href=${`#/topics/${enc(topic)}`}>${topic}</a> /</p>
    <h1 id="h-records">Records of ${topic}</h1>
    <${ErrorBox} error=${meta.error} />
    ${t && html`
    <form class="card form controls" onSubmit=${show} aria-label="Which records">
      <label>Partition
        <select name="partition" value=${partition} onChange=${(e) => setPartition(Number(e.target.value))}>
          ${t.partitions.map((p) => html`<option value=${p.partition}>${
            `${p.partition} (${p.high_watermark > p.log_start_offset ?
              `offsets ${fmt.count(p.log_start_offset)}–${fmt.count(p.high_watermark - 1)}` : 'empty'})`}</option>`)}
        </select></label>
      <label>Start at
        <select name="mode" value=${mode} onChange=${(e) => setMode(e.target.value)}>
          <option value="earliest">the log start offset</option>
          <option value="latest">the last page</option>
          <option value="offset">an offset</option>
          <option value="time">a time</option>
        </select></label>
      ${mode === 'offset' && html`<label>Offset<input name="offset" type="number" min="0"
        value=${offsetInput} onInput=${(e) => setOffsetInput(e.target.value)} /></label>`}
      ${mode === 'time' && html`<label>Time (local)<input name="time" type="datetime-local" step="1"
        value=${timeInput} onInput=${(e) => setTimeInput(e.target.value)} /></label>`}
      <label>Per page
        <select name="page-size" value=${pageSize} onChange=${(e) => setPageSize(Number(e.target.value))}>
          ${[10, 20, 50, 100].map((n) => html`<option value=${n}>${n}</option>`)}
        </select></label>
      <button type="submit" class="primary">Show</button>
    </form>
    <${ErrorBox} error=${error} />
    ${page && html`<nav class="pager" aria-label="Pages">
      <button disabled=${loading || page.offset <= lso} onClick=${() => load(older)}>← Older</button>
      <span role="status" id="page-status">${page.records.length ?
        `offsets ${page.records[0].offset}–${page.records[page.records.length - 1].offset}` :
        `no records at offset ${page.offset}`} (log start ${page.log_start_offset},
        high watermark ${page.high_watermark})</span>
      <button disabled=${loading || page.next_offset >= page.high_watermark}
        onClick=${() => load(page.next_offset)}>Newer →</button>
    </nav>
    ${page.records.length > 0 && html`<${RecordTable} id="records-table" records=${page.records}
      caption=${`Partition ${partition}`} />`}`}
    <${LiveTail} topic=${topic} partition=${partition} />
    <${Produce} topic=${topic} partitions=${t.partitions} configs=${t.configs}
      onProduced=${() => page && page.next_offset >= page.high_watermark && page.records.length < pageSize && load(page.offset)} />`}
  </section>`;
}
