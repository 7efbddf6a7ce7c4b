// topics.js — every topic with its partitions, size and rates; create one
// (with configs) and delete one after confirming its name.

import { useState } from 'preact/hooks';
import { get, post, del, enc } from '../api.js';
import { html, usePoll, ErrorBox, Confirm } from '../ui.js';
import { useMetrics } from './overview.js';
import * as fmt from '../format.js';

// The configs the form offers (API.md "Topics"); empty fields are left to
// the broker's defaults.
const CONFIGS = [
  { key: 'retention_ms', label: 'Retention (ms)', type: 'number', hint: '-1: forever' },
  { key: 'retention_bytes', label: 'Retention (bytes per partition)', type: 'number', hint: '-1: no limit' },
  { key: 'segment_bytes', label: 'Segment size (bytes)', type: 'number' },
  { key: 'segment_ms', label: 'Segment age (ms)', type: 'number' },
  { key: 'max_message_bytes', label: 'Largest batch (bytes)', type: 'number' },
  { key: 'min_insync_replicas', label: 'Min in-sync replicas', type: 'number' },
  { key: 'flush_messages', label: 'Flush every N messages', type: 'number' },
  { key: 'flush_ms', label: 'Flush every N ms', type: 'number' },
  { key: 'key_format', label: 'Key format', choices: ['json', 'string', 'binary'] },
  { key: 'value_format', label: 'Value format', choices: ['json', 'string', 'binary'] },
];

function CreateTopic({ onCreated }) {
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ name: '', partitions: 3, replication_factor: 1 });
  const [configs, setConfigs] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const cfg = {};
    for (const c of CONFIGS) {
      const v = configs[c.key];
      if (v === undefined || v === '') continue;
      cfg[c.key] = c.type === 'number' ? Number(v) : v;
    }
    try {
      await post('/v1/topics', { name: form.name.trim(), partitions: Number(form.partitions),
        replication_factor: Number(form.replication_factor), configs: cfg });
      onCreated(form.name.trim());
      setForm({ name: '', partitions: 3, replication_factor: 1 });
      setConfigs({});
      setOpen(false);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (!open)
    return html`<button class="primary" onClick=${() => setOpen(true)}>New topic</button>`;
  const field = (k, v) => setForm({ ...form, [k]: v });
  return html`<form class="card form" onSubmit=${submit} aria-labelledby="h-create">
    <h2 id="h-create">New topic</h2>
    <div class="grid3">
      <label>Name<input name="name" required pattern="[A-Za-z0-9._\\-]{1,249}" autofocus
        title="letters, digits, . _ - (at most 249)" value=${form.name}
        onInput=${(e) => field('name', e.target.value)} /></label>
      <label>Partitions<input name="partitions" type="number" min="1" max="10000" required
        value=${form.partitions} onInput=${(e) => field('partitions', e.target.value)} /></label>
      <label>Replication factor<input name="replication_factor" type="number" min="1"
        required value=${form.replication_factor}
        onInput=${(e) => field('replication_factor', e.target.value)} /></label>
    </div>
    <fieldset>
      <legend>Configs (empty: the broker's default)</legend>
      <div class="grid3">
        ${CONFIGS.map((c) => html`<label>${c.label}${c.choices ?
          html`<select name=${c.key} value=${configs[c.key] || ''}
              onChange=${(e) => setConfigs({ ...configs, [c.key]: e.target.value })}>
            <option value="">default</option>
            ${c.choices.map((o) => html`<option value=${o}>${o}</option>`)}
          </select>` :
          html`<input name=${c.key} type="number" placeholder=${c.hint || ''}
            value=${configs[c.key] || ''}
            onInput=${(e) => setConfigs({ ...configs, [c.key]: e.target.value })} />`}</label>`)}
      </div>
    </fieldset>
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button type="button" onClick=${() => setOpen(false)}>Cancel</button>
      <button type="submit" class="primary" disabled=${busy}>Create topic</button>
    </div>
  </form>`;
}

export function Topics() {
  const m = useMetrics();
  const [doomed, setDoomed] = useState(null);
  const [typed, setTyped] = useState('');
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const { data, error: loadError, reload } = usePoll(() => get('/v1/topics'), 2000);
  const remove = async () => {
    const name = doomed;
    setDoomed(null);
    try {
      await del(`/v1/topics/${enc(name)}`);
      setNotice(`Topic ${name} deleted.`);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const topics = data ? [...data].sort((a, b) => a.name.localeCompare(b.name)) : [];
  return html`<section aria-labelledby="h-topics">
    <h1 id="h-topics">Topics</h1>
    <${CreateTopic} onCreated=${(n) => { setNotice(`Topic ${n} created.`); reload(); }} />
    <p class="notice" role="status">${notice}</p>
    <${ErrorBox} error=${loadError || error} />
    ${data && !topics.length && html`<p class="muted">No topics yet.</p>`}
    ${topics.length > 0 && html`<div class="table-wrap"><table id="topics-table">
      <caption class="sr-only">Topics</caption>
      <thead><tr><th scope="col">Name</th><th scope="col" class="num">Partitions</th>
        <th scope="col" class="num">Replication</th><th scope="col" class="num">Records</th>
        <th scope="col" class="num">Size</th>
        <th scope="col" class="num">Records in</th><th scope="col" class="num">Bytes in</th>
        <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${topics.map((t) => {
        const s = m && m.topics[t.name];
        return html`<tr key=${t.name}>
          <th scope="row"><a href=${`#/topics/${enc(t.name)}`}>${t.name}</a></th>
          <td class="num">${t.partitions}</td><td class="num">${t.replication_factor}</td>
          <td class="num">${s ? fmt.count(s.leo - s.lso) : '–'}</td>
          <td class="num">${s ? fmt.bytes(s.size) : '–'}</td>
          <td class="num">${s ? fmt.rate(s.rate) : '–'}</td>
          <td class="num">${s ? fmt.byteRate(s.byteRate) : '–'}</td>
          <td class="actions-cell">
            <a href=${`#/topics/${enc(t.name)}/records`}>Records</a>
            <button class="danger small" onClick=${() => { setTyped(''); setDoomed(t.name); }}
              aria-label=${`Delete topic ${t.name}`}>Delete</button>
          </td></tr>`;
      })}</tbody></table></div>`}
    <${Confirm} open=${doomed !== null} title=${`Delete topic ${doomed || ''}?`}
      confirmLabel="Delete" danger ready=${typed === doomed} onCancel=${() => setDoomed(null)}
      onConfirm=${() => typed === doomed && remove()}>
      <p>Its partitions and every record in them are removed for good.</p>
      <label>Type the topic's name to confirm
        <input name="confirm-name" value=${typed} autocomplete="off"
          onInput=${(e) => setTyped(e.target.value)} /></label>
    </${Confirm}>
  </section>`;
}
