// SLO: met ratio and latency percentiles per group and over time, and the
// slowest deliveries.
import { get, type SLOGroup, type SLOSummary } from '../api';
import { LineChart } from '../chart';
import { Field, Loading, Problem, useFetch } from '../components';
import { percent, ranges, seconds, since } from '../format';
import { navigate, withQuery, type Location } from '../router';
import { PodTable } from './Pods';

const steps = ['auto', '10s', '1m', '5m', '15m', '1h', '6h', '24h'];

export function SLO({ loc }: { loc: Location }) {
  const q = loc.query;
  const groupBy = q.get('group_by') ?? 'namespace';
  const range = q.get('range') ?? 'all';
  const kind = q.get('kind') ?? 'create';
  const stepSel = q.get('step') ?? 'auto';
  const ns = q.get('namespace') ?? '';
  const res = useFetch<SLOSummary>((signal) => get<SLOSummary>('/api/v1/slo/summary', {
    group_by: groupBy, since: since(range), kind: kind === 'any' ? undefined : kind, step: stepSel, namespace: ns,
  }, signal), [groupBy, range, kind, stepSel, ns]);
  const set = (k: string, v: string) => navigate(withQuery('/slo', q, { [k]: v }));
  const top = (res.data?.groups ?? []).slice(0, 6);
  return (
    <section aria-labelledby="slo-title">
      <div class="page-head"><h1 id="slo-title">SLO</h1></div>
      <form class="filters" aria-label="SLO view" onSubmit={(e) => e.preventDefault()}>
        <Field label="group by" id="f-group_by">
          <select id="f-group_by" value={groupBy} onChange={(e) => set('group_by', (e.target as HTMLSelectElement).value)}>
            <option value="namespace">namespace</option><option value="owner_kind">owner kind</option><option value="node">node</option>
          </select>
        </Field>
        <Field label="delivery kind" id="f-kind">
          <select id="f-kind" value={kind} onChange={(e) => set('kind', (e.target as HTMLSelectElement).value)}>
            <option value="create">create</option><option value="delete">delete</option><option value="upgrade">upgrade</option><option value="any">any</option>
          </select>
        </Field>
        <Field label="time range" id="f-range">
          <select id="f-range" value={range} onChange={(e) => set('range', (e.target as HTMLSelectElement).value)}>
            {ranges.map(([v, l]) => <option value={v}>{l}</option>)}
          </select>
        </Field>
        <Field label="bucket" id="f-step">
          <select id="f-step" value={stepSel} onChange={(e) => set('step', (e.target as HTMLSelectElement).value)}>
            {steps.map((s) => <option value={s}>{s === 'auto' && res.data?.window.step ? `auto (${res.data.window.step})` : s}</option>)}
          </select>
        </Field>
      </form>
      {res.error && <Problem error={res.error} />}
      {!res.data && res.loading && <Loading />}
      {res.data && (
        <>
          {res.data.window.truncated && <p class="problem">Only the newest {res.data.window.scanned} deliveries were read: narrow the time range.</p>}
          <dl class="cards">
            <div><dt>Deliveries</dt><dd>{res.data.overall.deliveries}</dd></div>
            <div><dt>Met SLO</dt><dd>{percent(res.data.overall.met_ratio)}</dd><dd class="small muted">{res.data.overall.met} of {res.data.overall.judged} judged</dd></div>
            <div><dt>p50 total</dt><dd>{seconds(res.data.overall.total.p50)}</dd></div>
            <div><dt>p90 total</dt><dd>{seconds(res.data.overall.total.p90)}</dd></div>
            <div><dt>p99 total</dt><dd>{seconds(res.data.overall.total.p99)}</dd></div>
          </dl>
          <h2>Met ratio over time</h2>
          <LineChart label="SLO met ratio per bucket" max={1} format={(v) => percent(v)}
            series={top.map((g) => ({ name: g.key, points: (g.series ?? []).map((b) => ({ t: Date.parse(b.start), v: b.met_ratio })) }))} />
          <h2>p90 delivery time over time</h2>
          <LineChart label="p90 total delivery time per bucket" format={(v) => seconds(v)}
            series={top.map((g) => ({ name: g.key, points: (g.series ?? []).map((b) => ({ t: Date.parse(b.start), v: b.total.p90 })) }))} />
          <h2>By {groupBy.replace('_', ' ')}</h2>
          <GroupTable groups={res.data.groups} groupBy={groupBy} />
          <h2>Slowest deliveries</h2>
          <PodTable items={res.data.worst} caption="The slowest finished deliveries of the window" />
        </>
      )}
    </section>
  );
}

function GroupTable({ groups, groupBy }: { groups: SLOGroup[]; groupBy: string }) {
  if (groups.length === 0) return <p class="empty">No deliveries in this window.</p>;
  const filterKey = groupBy === 'owner_kind' ? '' : groupBy;
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">SLO figures per {groupBy}</caption>
        <thead>
          <tr>
            <th scope="col">{groupBy.replace('_', ' ')}</th><th scope="col" class="num">Deliveries</th><th scope="col" class="num">Met</th>
            <th scope="col" class="num">p50</th><th scope="col" class="num">p90</th><th scope="col" class="num">p99</th>
            <th scope="col" class="num">p90 platform</th><th scope="col" class="num">p90 user</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr>
              <th scope="row">{filterKey && g.key ? <a href={withQuery('/pods', new URLSearchParams(), { [filterKey]: g.key })}>{g.key}</a> : (g.key || '(none)')}</th>
              <td class="num">{g.deliveries}</td>
              <td class="num">{percent(g.met_ratio)} <span class="small muted">({g.met}/{g.judged})</span></td>
              <td class="num">{seconds(g.total.p50)}</td><td class="num">{seconds(g.total.p90)}</td><td class="num">{seconds(g.total.p99)}</td>
              <td class="num">{seconds(g.platform.p90)}</td><td class="num">{seconds(g.user.p90)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
