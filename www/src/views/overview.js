// overview.js — the broker at a glance: brokers, topics, partitions and
// groups, and records and bytes in and out per second, sampled each second.

import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { subscribe } from '../metrics.js';
import { html, usePoll, Chart, ErrorBox } from '../ui.js';
import * as fmt from '../format.js';

export function useMetrics() {
  const [m, setM] = useState(null);
  const [, tick] = useState(0);
  useEffect(() => subscribe((s) => { setM(s); tick((n) => n + 1); }), []);
  return m;
}

const last = (a) => (a && a.length ? a[a.length - 1] : null);

export function Overview() {
  const m = useMetrics();
  const { data, error } = usePoll(async () => {
    const [cluster, topics, groups] = await Promise.all([
      get('/v1/cluster'), get('/v1/topics'), get('/v1/groups')]);
    return { cluster, topics, groups };
  }, 2000);
  const partitions = data ? data.topics.reduce((n, t) => n + t.partitions, 0) : null;
  const stat = (id, label, value) => html`<div class="stat" id=${id}>
    <div class="stat-label">${label}</div><div class="stat-value">${value}</div></div>`;
  return html`<section aria-labelledby="h-overview">
    <h1 id="h-overview">Overview</h1>
    <${ErrorBox} error=${error || (m && m.error)} />
    <div class="stats">
      ${stat('stat-brokers', 'Brokers', data ? data.cluster.brokers.length : '…')}
      ${stat('stat-topics', 'Topics', data ? data.topics.length : '…')}
      ${stat('stat-partitions', 'Partitions', partitions ?? '…')}
      ${stat('stat-groups', 'Consumer groups', data ? data.groups.length : '…')}
      ${stat('stat-records-in', 'Records in', m ? fmt.rate(last(m.recIn)) : '…')}
      ${stat('stat-records-out', 'Records out', m ? fmt.rate(last(m.recOut)) : '…')}
      ${stat('stat-bytes-in', 'Bytes in', m ? fmt.byteRate(last(m.bytesIn)) : '…')}
      ${stat('stat-bytes-out', 'Bytes out', m ? fmt.byteRate(last(m.bytesOut)) : '…')}
      ${stat('stat-appended', 'Records appended since start',
             m && m.last ? fmt.count(m.last.recIn) : '…')}
    </div>
    ${data && html`<div class="table-wrap"><table id="brokers-table">
      <caption>Brokers of cluster <code>${data.cluster.cluster_id}</code></caption>
      <thead><tr><th scope="col" class="num">Id</th><th scope="col">URL</th>
        <th scope="col">Alive</th><th scope="col">Role</th></tr></thead>
      <tbody>${data.cluster.brokers.map((b) => html`<tr key=${b.id}>
        <th scope="row" class="num">${b.id}</th><td><code>${b.url}</code></td>
        <td>${b.alive ? 'yes' : 'no'}</td>
        <td>${b.id === data.cluster.controller ? 'controller' : ''}</td></tr>`)}</tbody>
    </table></div>`}
    ${m && html`<div class="charts">
      <${Chart} title="Records per second" t=${m.t} fmt=${fmt.rate} series=${[
        { label: 'in (appended)', color: '--c1', values: m.recIn },
        { label: 'out (fetched)', color: '--c2', values: m.recOut }]} />
      <${Chart} title="Bytes per second" t=${m.t} fmt=${fmt.byteRate} floor=${1024} series=${[
        { label: 'in (appended)', color: '--c1', values: m.bytesIn },
        { label: 'out (responses)', color: '--c2', values: m.bytesOut }]} />
    </div>`}
  </section>`;
}
