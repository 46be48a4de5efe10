// Diagnoses: the most frequent finding codes over time, each with example
// pods; counts per phase and owner.
import { get, type Count, type DiagnosesSummary } from '../api';
import { LineChart } from '../chart';
import { Field, Link, Loading, OwnerTag, Problem, useFetch } from '../components';
import { ranges, since } from '../format';
import { navigate, withQuery, type Location } from '../router';

export function Diagnoses({ loc }: { loc: Location }) {
  const q = loc.query;
  const range = q.get('range') ?? 'all';
  const res = useFetch<DiagnosesSummary>((signal) => get<DiagnosesSummary>('/api/v1/diagnoses/summary', { since: since(range), step: 'auto' }, signal), [range]);
  const max = Math.max(1, ...(res.data?.codes ?? []).map((c) => c.count));
  return (
    <section aria-labelledby="diag-title">
      <div class="page-head"><h1 id="diag-title">Diagnoses</h1></div>
      <form class="filters" aria-label="Diagnoses view" onSubmit={(e) => e.preventDefault()}>
        <Field label="time range" id="f-range">
          <select id="f-range" value={range} onChange={(e) => navigate(withQuery('/diagnoses', q, { range: (e.target as HTMLSelectElement).value }))}>
            {ranges.map(([v, l]) => <option value={v}>{l}</option>)}
          </select>
        </Field>
      </form>
      {res.error && <Problem error={res.error} />}
      {!res.data && res.loading && <Loading />}
      {res.data && (
        <>
          <p>{res.data.diagnosed} of {res.data.window.scanned} deliveries have findings.</p>
          {res.data.codes.length === 0 ? <p class="empty">No findings in this window.</p> : (
            <>
              <h2>Top codes over time</h2>
              <LineChart label={`Deliveries per ${res.data.window.step} by finding code`}
                max={Math.max(2, Math.ceil(Math.max(...res.data.codes.flatMap((c) => (c.series ?? []).map((b) => b.count))) * 1.2))}
                format={(v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))}
                series={res.data.codes.slice(0, 6).map((c) => ({ name: c.code, points: (c.series ?? []).map((b) => ({ t: Date.parse(b.start), v: b.count })) }))} />
              <h2>Codes</h2>
              <ol class="codes">
                {res.data.codes.map((c) => (
                  <li>
                    <div class="code-row">
                      <Link href={`/pods?code=${encodeURIComponent(c.code)}`} class="code">{c.code}</Link>
                      <span class="muted">{c.phase || 'delivery'}</span> <OwnerTag owner={c.owner} />
                      <span class="hbar" aria-hidden="true"><span style={{ width: `${(c.count / max) * 100}%` }} /></span>
                      <span class="num">{c.count}</span>
                    </div>
                    <p class="small">Examples: {c.examples.map((e, i) => (
                      <>{i > 0 && ', '}<Link href={`/pods/${encodeURIComponent(e.uid)}?delivery=${e.kind}-${e.seq}`}>{e.namespace}/{e.name}</Link></>
                    ))}</p>
                  </li>
                ))}
              </ol>
              <div class="cols">
                <Counts title="By phase" counts={res.data.phases} />
                <Counts title="By owner" counts={res.data.owners} />
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}

function Counts({ title, counts }: { title: string; counts: Count[] }) {
  return (
    <table>
      <caption>{title}</caption>
      <tbody>{counts.map((c) => <tr><th scope="row">{c.key || '(none)'}</th><td class="num">{c.count}</td></tr>)}</tbody>
    </table>
  );
}
