// groups.js — consumer groups: the list, and one group's state, generation,
// members, which member owns which partition, and lag per partition now
// and over time (since the page opened).

import { useState } from 'preact/hooks';
import { get, del, enc } from '../api.js';
import { html, usePoll, ErrorBox, Chart, Confirm, useHistory } from '../ui.js';
import * as fmt from '../format.js';

const GROUPS_DESCRIBED_MAX = 100;   // the list fetches lag for this many groups at most

export function Groups() {
  const { data, error } = usePoll(async () => {
    const list = (await get('/v1/groups')).sort((a, b) => a.group.localeCompare(b.group));
    const described = await Promise.all(list.slice(0, GROUPS_DESCRIBED_MAX).map((g) =>
      get(`/v1/groups/${enc(g.group)}`).catch(() => null)));
    return list.map((g, i) => ({ ...g, lag: described[i] ? described[i].lag : null }));
  }, 2000);
  return html`<section aria-labelledby="h-groups">
    <h1 id="h-groups">Consumer groups</h1>
    <${ErrorBox} error=${error} />
    ${data && !data.length && html`<p class="muted">No consumer groups yet. A group appears
      when a member joins (<code>POST /v1/groups/NAME/members</code>) or offsets are committed.</p>`}
    ${data && data.length > 0 && html`<div class="table-wrap"><table id="groups-table">
      <caption class="sr-only">Consumer groups</caption>
      <thead><tr><th scope="col">Group</th><th scope="col">State</th>
        <th scope="col" class="num">Generation</th><th scope="col" class="num">Members</th>
        <th scope="col" class="num">Lag</th></tr></thead>
      <tbody>${data.map((g) => html`<tr key=${g.group}>
        <th scope="row"><a href=${`#/groups/${enc(g.group)}`}>${g.group}</a></th>
        <td><span class=${`state state-${g.state}`}>${g.state}</span></td>
        <td class="num">${g.generation}</td><td class="num">${g.members}</td>
        <td class="num lag">${g.lag == null ? '–' : fmt.count(g.lag)}</td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

// Lag of a topic's partition from the group's committed offsets, or null.
function lagOf(group, topic, partition) {
  const o = group.offsets.find((x) => x.topic === topic && x.partition === Number(partition));
  return o ? o.lag : null;
}

// A member's lag: the sum over its assigned partitions that have commits.
function memberLag(group, m) {
  let sum = 0, any = false;
  for (const a of m.assignment || []) for (const p of a.partitions) {
    const l = lagOf(group, a.topic, p);
    if (l != null) { sum += l; any = true; }
  }
  return any ? sum : null;
}

function Assignment({ group }) {
  // partition -> member, per topic
  const owners = {};
  group.members.forEach((m, i) => (m.assignment || []).forEach((a) => a.partitions.forEach((p) => {
    (owners[a.topic] ||= {})[p] = { member: m.member_id, index: i };
  })));
  const topics = Object.keys(owners).sort();
  if (!topics.length) return html`<p class="muted">No partitions assigned.</p>`;
  return html`<div class="assignment">${topics.map((t) => html`<div key=${t}>
    <h3><a href=${`#/topics/${enc(t)}`}>${t}</a></h3>
    <ul class="assign-list">${Object.entries(owners[t]).sort((a, b) => a[0] - b[0]).map(([p, o]) =>
      html`<li class="assign" data-partition=${p} style=${`--m:var(--c${(o.index % 6) + 1})`}>
        <span class="assign-p">partition ${p}</span><span aria-hidden="true"> → </span>
        <span class="sr-only"> is owned by </span><code>${o.member}</code>
        <span class="assign-lag">lag ${lagOf(group, t, p) == null ? 'unknown (no commit)' :
          fmt.count(lagOf(group, t, p))}</span></li>`)}</ul>
  </div>`)}</div>`;
}

export function Group({ name }) {
  const [hist, addHist] = useHistory();
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState(null);
  const { data, error: loadError } = usePoll(async () => {
    const g = await get(`/v1/groups/${enc(name)}`);
    const lags = {};
    for (const o of g.offsets) lags[`${o.topic}[${o.partition}]`] = o.lag;
    addHist(Date.now() / 1000, lags);
    return g;
  }, 1000, [name]);
  const remove = async () => {
    setConfirm(false);
    try {
      await del(`/v1/groups/${enc(name)}`);
      location.hash = '#/groups';
    } catch (e) {
      setError(e);
    }
  };
  const series = Object.keys(hist.series).sort().slice(0, 12).map((k, i) => ({
    label: k, color: `--c${(i % 6) + 1}`, values: hist.series[k] }));
  const g = data;
  return html`<section aria-labelledby="h-group">
    <p class="crumbs"><a href="#/groups">Consumer groups</a> /</p>
    <h1 id="h-group">${name}</h1>
    <${ErrorBox} error=${loadError || error} />
    ${g && html`
      <dl class="facts">
        <div><dt>State</dt><dd id="group-state"><span class=${`state state-${g.state}`}>${g.state}</span></dd></div>
        <div><dt>Generation</dt><dd id="group-generation">${g.generation}</dd></div>
        <div><dt>Assignor</dt><dd>${g.assignor || '–'}</dd></div>
        <div><dt>Members</dt><dd>${g.members.length}</dd></div>
        <div><dt>Total lag</dt><dd id="group-lag" class="lag">${fmt.count(g.lag)}</dd></div>
      </dl>
      <h2>Members</h2>
      ${g.members.length ? html`<div class="table-wrap"><table id="members-table">
        <thead><tr><th scope="col">Member</th><th scope="col">Topics</th>
          <th scope="col" class="num">Session timeout</th><th scope="col">Assignment</th>
          <th scope="col" class="num">Lag</th></tr></thead>
        <tbody>${g.members.map((m) => html`<tr key=${m.member_id}>
          <th scope="row"><code>${m.member_id}</code></th><td>${m.topics.join(', ')}</td>
          <td class="num">${m.session_timeout_ms} ms</td>
          <td>${(m.assignment || []).map((a) => html`<span class="chip">${a.topic}: ${a.partitions.join(', ') || 'none'}</span>`)}</td>
          <td class="num member-lag">${memberLag(g, m) == null ? '–' : fmt.count(memberLag(g, m))}</td>
        </tr>`)}</tbody></table></div>` : html`<p class="muted">No members: the group is empty.</p>`}
      <h2>Assignment</h2>
      <${Assignment} group=${g} />
      <h2>Lag</h2>
      ${g.offsets.length ? html`<div class="table-wrap"><table id="lag-table">
        <thead><tr><th scope="col">Topic</th><th scope="col" class="num">Partition</th>
          <th scope="col" class="num">Committed offset</th><th scope="col" class="num">High watermark</th>
          <th scope="col" class="num">Lag</th><th scope="col">Metadata</th></tr></thead>
        <tbody>${g.offsets.map((o) => html`<tr key=${`${o.topic}-${o.partition}`}>
          <td><a href=${`#/topics/${enc(o.topic)}`}>${o.topic}</a></td><td class="num">${o.partition}</td>
          <td class="num">${fmt.count(o.offset)}</td><td class="num">${fmt.count(o.high_watermark)}</td>
          <td class="num lag">${fmt.count(o.lag)}</td><td>${o.metadata}</td></tr>`)}</tbody>
      </table></div>
      ${series.length > 0 && html`<${Chart} title="Lag per partition over time (records)"
        t=${hist.t} series=${series} fmt=${fmt.count} />`}` :
      html`<p class="muted">No committed offsets yet.</p>`}
      <p><button class="danger" disabled=${g.members.length > 0} onClick=${() => setConfirm(true)}
        title=${g.members.length ? 'a group with members cannot be deleted' : ''}>Delete group</button></p>
      <${Confirm} open=${confirm} title=${`Delete group ${name}?`} confirmLabel="Delete" danger
        onCancel=${() => setConfirm(false)} onConfirm=${remove}>
        <p>Its committed offsets are removed.</p></${Confirm}>`}
  </section>`;
}
