// topic.js — one topic: a bar per partition from its log start offset to
// its high watermark to its log end offset (Kafka's three positions of a
// partition log), every group's committed offset drawn on it with its lag,
// each partition's leader, leader epoch and replicas (in the ISR or out of
// sync), each replica's log end offset against the high watermark, and the
// topic's configs.

import { useState } from 'preact/hooks';
import { get, patch, enc } from '../api.js';
import { html, usePoll, ErrorBox } from '../ui.js';
import * as fmt from '../format.js';

// Committed offsets of every group on this topic: [{group, partition, offset, lag}].
async function groupOffsets(topic) {
  const groups = await get('/v1/groups');
  const all = await Promise.all(groups.map((g) =>
    get(`/v1/groups/${enc(g.group)}/offsets`).catch(() => null)));
  const out = [];
  all.forEach((o) => o && o.offsets.forEach((c) => {
    if (c.topic === topic) out.push({ group: o.group, partition: c.partition, offset: c.offset, lag: c.lag });
  }));
  return out;
}

const W = 1000, BAR = 26, GAP = 30, LEFT = 0;

function PartitionBars({ topic, partitions, commits }) {
  const max = Math.max(1, ...partitions.map((p) => p.log_end_offset));
  const x = (o) => LEFT + (W - LEFT) * (o / max);
  const height = partitions.length * (BAR + GAP) + 10;
  const groups = [...new Set(commits.map((c) => c.group))].sort();
  // markers take the colours after --c1, which is close to the readable bar's
  const color = (g) => `var(--c${(groups.indexOf(g) % 5) + 2})`;
  return html`<figure class="bars">
    <figcaption>Each bar is one partition's log, from offset 0 to ${fmt.count(max)}:
      <span class="key deleted">removed by retention</span>
      <span class="key committed">readable (log start offset → high watermark)</span>
      <span class="key pending">not yet replicated (high watermark → log end offset)</span>
      ${groups.map((g) => html`<span class="key marker" style=${`--m:${color(g)}`}>group ${g}</span>`)}
    </figcaption>
    <svg viewBox=${`0 0 ${W} ${height}`} preserveAspectRatio="none" role="img"
         aria-label=${`Offsets of the ${partitions.length} partitions of ${topic}`}>
      ${partitions.map((p, i) => {
        const y = i * (BAR + GAP) + 18;
        const marks = commits.filter((c) => c.partition === p.partition);
        return html`<g key=${p.partition} class="pbar" data-partition=${p.partition}>
          <text x="2" y=${y - 5} class="plabel">partition ${p.partition}: ${fmt.count(p.log_start_offset)} → ${fmt.count(p.high_watermark)} → ${fmt.count(p.log_end_offset)}</text>
          <rect x="0" y=${y} width=${W} height=${BAR} class="track" />
          <rect x="0" y=${y} width=${x(p.log_start_offset)} height=${BAR} class="deleted" />
          <rect x=${x(p.log_start_offset)} y=${y} width=${x(p.high_watermark) - x(p.log_start_offset)}
                height=${BAR} class="committed"><title>readable: ${p.log_start_offset} to ${p.high_watermark}</title></rect>
          <rect x=${x(p.high_watermark)} y=${y} width=${x(p.log_end_offset) - x(p.high_watermark)}
                height=${BAR} class="pending" />
          ${marks.map((c) => html`<g class="commit" data-group=${c.group}>
            <line x1=${x(c.offset)} x2=${x(c.offset)} y1=${y - 4} y2=${y + BAR + 4}
                  style=${`stroke:${color(c.group)}`} stroke-width="4" />
            <text x=${Math.min(x(c.offset) + 6, W - 150)} y=${y + BAR - 7} class="mlabel">${c.group}: lag ${c.lag}</text>
            <title>${c.group}: committed ${c.offset}, lag ${c.lag}</title></g>`)}
        </g>`;
      })}
    </svg>
  </figure>`;
}

// Each replica of a partition: { broker, leader, inIsr, alive (listed by
// GET /v1/cluster: a broker's registration goes with its lease), leo } where
// leo is the replica's log end offset when known: from the partition's
// replica_states (the leader's knowledge, cluster mode; another broker knows
// only its own and says -1 for the rest), or, for a broker
// alone in its cluster, the partition's own (it is the leader); else null.
function replicaRows(p, cluster) {
  const brokers = (cluster && cluster.brokers) || [];
  const sole = brokers.length === 1 ? brokers[0].id : null;
  const states = p.replica_states || [];
  return p.replicas.map((id) => {
    const st = states.find((s) => s.broker === id);
    const b = brokers.find((x) => x.id === id);
    let leo = null;
    if (st && st.log_end_offset >= 0) leo = st.log_end_offset;   // -1: unknown to this broker
    else if (id === sole && id === p.leader) leo = p.log_end_offset;
    return {
      broker: id, leader: id === p.leader,
      inIsr: st && typeof st.in_isr === 'boolean' ? st.in_isr : p.isr.includes(id),
      alive: Boolean(b && b.alive), leo,
    };
  });
}

function ReplicaBadges({ rows }) {
  return rows.map((r) => html`<span key=${r.broker} data-broker=${r.broker}
      class=${`chip replica ${r.inIsr ? 'in-sync' : 'out-of-sync'}`}>
    <strong>${r.broker}</strong>${r.leader ? ' leader' : ''}${r.inIsr ? ' in sync' : ' out of sync'}${r.alive ? '' : ', down'}</span>`);
}

// Where a log end offset stands against the high watermark: above it are
// the leader's records not committed yet, below it a follower behind.
function vsHw(leo, hw) {
  if (leo == null) return 'unknown';
  if (leo > hw) return `${fmt.count(leo - hw)} above`;
  if (leo < hw) return `${fmt.count(hw - leo)} below`;
  return 'at';
}

// One row per replica, grouped by partition: role, ISR, log end offset and a
// bar from 0 to it with the partition's high watermark marked on it.
function ReplicaTable({ partitions, cluster }) {
  const all = partitions.map((p) => ({ p, rows: replicaRows(p, cluster) }));
  const max = Math.max(1, ...all.flatMap(({ p, rows }) =>
    [p.high_watermark, ...rows.map((r) => r.leo || 0)]));
  const pct = (o) => `${(100 * o) / max}%`;
  const unknown = all.some(({ rows }) => rows.some((r) => r.leo == null));
  return html`<div class="table-wrap"><table id="replicas-table">
    <caption>Replicas: each one's log end offset against its partition's high watermark
      <span class="key replica-bar">log end offset</span><span class="key hw-mark">high watermark</span></caption>
    <thead><tr><th scope="col">Partition</th><th scope="col">Broker</th><th scope="col">Role</th>
      <th scope="col">ISR</th><th scope="col" class="num">Log end</th>
      <th scope="col" class="num">High watermark</th><th scope="col">Against the high watermark</th></tr></thead>
    <tbody>${all.map(({ p, rows }) => rows.map((r, i) => html`<tr key=${`${p.partition}-${r.broker}`}
        data-partition=${p.partition} data-broker=${r.broker}
        class=${r.inIsr ? 'in-sync' : 'out-of-sync'}>
      ${i === 0 && html`<th scope="rowgroup" rowspan=${rows.length}>${p.partition}</th>`}
      <td>${r.broker}</td><td>${r.leader ? 'leader' : 'follower'}</td>
      <td><span class=${`chip replica ${r.inIsr ? 'in-sync' : 'out-of-sync'}`}>${r.inIsr ? 'in sync' : 'out of sync'}</span>${r.alive ? '' : ' down'}</td>
      <td class="num">${r.leo == null ? '–' : fmt.count(r.leo)}</td>
      <td class="num">${fmt.count(p.high_watermark)}</td>
      <td><div class="replica-cell"><div class="rbar" role="img"
          aria-label=${`broker ${r.broker}: log end ${r.leo == null ? 'unknown' : r.leo}, high watermark ${p.high_watermark}`}>
        ${r.leo != null && html`<div class="rbar-fill" style=${{ width: pct(r.leo) }}></div>`}
        <div class="rbar-hw" style=${{ left: pct(p.high_watermark) }}></div>
      </div><span class="vs-hw">${vsHw(r.leo, p.high_watermark)}</span></div></td>
    </tr>`))}</tbody></table>
    ${unknown && html`<p class="muted" id="replicas-unknown">A replica's log end offset is known to
      its partition's leader; this broker's answer does not carry it (–).</p>`}
  </div>`;
}

// Partitions only grow (API.md, PATCH /v1/topics/{topic}): keys hash to
// other partitions afterwards, as in Kafka.
function AddPartitions({ name, count, onDone }) {
  const [n, setN] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await patch(`/v1/topics/${enc(name)}`, { partitions: Number(n) });
      setN('');
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card form controls" onSubmit=${submit} aria-label="Add partitions">
    <label>Partitions (now ${count}; they can only grow)
      <input name="new-partitions" type="number" min=${count + 1} max="10000" required
        value=${n} onInput=${(e) => setN(e.target.value)} /></label>
    <button type="submit">Add partitions</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

export function Topic({ name }) {
  const { data, error, reload } = usePoll(async () => {
    const [topic, commits, cluster] = await Promise.all([get(`/v1/topics/${enc(name)}`),
      groupOffsets(name), get('/v1/cluster')]);
    return { topic, commits, cluster };
  }, 1000, [name]);
  const t = data && data.topic;
  return html`<section aria-labelledby="h-topic">
    <p class="crumbs"><a href="#/topics">Topics</a> /</p>
    <h1 id="h-topic">${name}</h1>
    <${ErrorBox} error=${error} />
    ${t && html`
      <p><a class="button" href=${`#/topics/${enc(name)}/records`}>Browse records</a></p>
      <${PartitionBars} topic=${name} partitions=${t.partitions} commits=${data.commits} />
      <div class="table-wrap"><table id="partitions-table">
        <caption>Partitions</caption>
        <thead><tr><th scope="col">Partition</th><th scope="col">Leader</th>
          <th scope="col" class="num">Leader epoch</th><th scope="col">Replicas</th>
          <th scope="col" class="num">Log start</th><th scope="col" class="num">High watermark</th>
          <th scope="col" class="num">Log end</th><th scope="col" class="num">Size</th>
          <th scope="col">Groups (committed offset, lag)</th></tr></thead>
        <tbody>${t.partitions.map((p) => html`<tr key=${p.partition}>
          <th scope="row"><a href=${`#/topics/${enc(name)}/records?partition=${p.partition}`}>${p.partition}</a></th>
          <td>${p.leader < 0 ? 'none' : p.leader}</td>
          <td class="num">${p.leader_epoch}</td>
          <td><${ReplicaBadges} rows=${replicaRows(p, data.cluster)} /></td>
          <td class="num">${fmt.count(p.log_start_offset)}</td>
          <td class="num">${fmt.count(p.high_watermark)}</td>
          <td class="num">${fmt.count(p.log_end_offset)}</td>
          <td class="num">${fmt.bytes(p.size_bytes)}</td>
          <td class="lagcell">${data.commits.filter((c) => c.partition === p.partition).map((c) =>
            html`<span class="chip"><a href=${`#/groups/${enc(c.group)}`}>${c.group}</a>
              ${' '}${fmt.count(c.offset)}, lag <strong class="lag">${fmt.count(c.lag)}</strong></span>`)}</td>
        </tr>`)}</tbody></table></div>
      <h2>Replication</h2>
      <${ReplicaTable} partitions=${t.partitions} cluster=${data.cluster} />
      <${AddPartitions} name=${name} count=${t.partitions.length} onDone=${reload} />
      <h2>Configs</h2>
      <dl class="configs">${Object.entries(t.configs).map(([k, v]) =>
        html`<div><dt>${k}</dt><dd>${String(v)}</dd></div>`)}</dl>`}
  </section>`;
}
