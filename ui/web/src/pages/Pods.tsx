// Pods: search and filter deliveries; a paged, live-updating list.
import { useEffect, useState } from 'preact/hooks';
import { get, type Page, type PodSummary } from '../api';
import { Field, Link, Loading, Outcome, Problem, SLOBadge, useFetch } from '../components';
import { ago, ranges, seconds, since, time } from '../format';
import { navigate, withQuery, type Location } from '../router';

const textFilters = ['namespace', 'name', 'code', 'node'] as const;
const outcomes = ['pending', 'running', 'ready', 'succeeded', 'failed', 'deleted', 'evicted'];

export function Pods({ loc }: { loc: Location }) {
  const q = loc.query;
  const cursor = q.get('cursor') ?? '';
  const live = q.get('live') !== 'off' && cursor === '';
  const range = q.get('range') ?? 'all';
  // the cursors of the pages before this one, for "Previous"
  const [history, setHistory] = useState<string[]>([]);

  const params = {
    namespace: q.get('namespace') ?? '', name: q.get('name') ?? '', outcome: q.get('outcome') ?? '',
    kind: q.get('kind') ?? '', code: q.get('code') ?? '', owner: q.get('owner') ?? '', node: q.get('node') ?? '',
  };
  const key = JSON.stringify([params, range, cursor]);
  const page = useFetch<Page>((signal) => get<Page>('/api/v1/pods', { ...params, since: since(range), cursor, limit: '50' }, signal), [key], live ? 5000 : 0);

  const set = (changes: Record<string, string | undefined>, replace = false) => {
    setHistory([]);
    navigate(withQuery('/pods', q, { ...changes, cursor: undefined }), replace);
  };

  return (
    <section aria-labelledby="pods-title">
      <div class="page-head">
        <h1 id="pods-title">Pods</h1>
        <label class="toggle">
          <input type="checkbox" checked={live} disabled={cursor !== ''}
            onChange={(e) => set({ live: (e.target as HTMLInputElement).checked ? undefined : 'off' }, true)} />
          <span>Live</span>
        </label>
      </div>
      <form class="filters" role="search" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
        {textFilters.map((f) => (
          <Field label={f} id={`f-${f}`}>
            <TextFilter name={f} value={params[f]} onCommit={(v) => set({ [f]: v })} />
          </Field>
        ))}
        <Field label="outcome" id="f-outcome">
          <select id="f-outcome" name="outcome" value={params.outcome} onChange={(e) => set({ outcome: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {outcomes.map((o) => <option value={o}>{o}</option>)}
          </select>
        </Field>
        <Field label="kind" id="f-kind">
          <select id="f-kind" name="kind" value={params.kind} onChange={(e) => set({ kind: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            <option value="create">create</option>
            <option value="delete">delete</option>
            <option value="upgrade">upgrade</option>
          </select>
        </Field>
        <Field label="finding owner" id="f-owner">
          <select id="f-owner" name="owner" value={params.owner} onChange={(e) => set({ owner: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            <option value="platform">platform</option>
            <option value="user">user</option>
          </select>
        </Field>
        <Field label="time range" id="f-range">
          <select id="f-range" name="range" value={range} onChange={(e) => set({ range: (e.target as HTMLSelectElement).value === 'all' ? undefined : (e.target as HTMLSelectElement).value })}>
            {ranges.map(([v, label]) => <option value={v}>{label}</option>)}
          </select>
        </Field>
      </form>

      {page.error && <Problem error={page.error} />}
      {!page.data && page.loading && <Loading />}
      {page.data && (
        <>
          <PodTable items={page.data.items} caption={`Deliveries${live ? ' (live)' : ''}, newest first`} />
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={cursor === ''} onClick={() => {
              const prev = history[history.length - 1] ?? '';
              setHistory(history.slice(0, -1));
              navigate(withQuery('/pods', q, { cursor: prev || undefined }));
            }}>← Newer</button>
            <button type="button" disabled={!page.data.next} onClick={() => {
              setHistory([...history, cursor]);
              navigate(withQuery('/pods', q, { cursor: page.data!.next! }));
            }}>Older →</button>
          </nav>
        </>
      )}
    </section>
  );
}

// TextFilter commits its value on Enter, on blur, or after a pause in typing.
function TextFilter({ name, value, onCommit }: { name: string; value: string; onCommit: (v: string) => void }) {
  const [v, setV] = useState(value);
  useEffect(() => setV(value), [value]);
  useEffect(() => {
    if (v === value) return;
    const t = window.setTimeout(() => onCommit(v.trim()), 600);
    return () => window.clearTimeout(t);
  }, [v]);
  return (
    <input type="search" id={`f-${name}`} name={name} value={v} autoComplete="off" spellcheck={false}
      onInput={(e) => setV((e.target as HTMLInputElement).value)}
      onKeyDown={(e) => { if (e.key === 'Enter') onCommit(v.trim()); }}
      onBlur={() => { if (v !== value) onCommit(v.trim()); }} />
  );
}

export function PodTable({ items, caption }: { items: PodSummary[]; caption: string }) {
  if (items.length === 0) return <p class="empty">No deliveries match.</p>;
  const longest = Math.max(...items.map((i) => i.duration_seconds), 0.001);
  return (
    <div class="table-wrap">
      <table class="pods">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Pod</th><th scope="col">Kind</th><th scope="col">Outcome</th>
            <th scope="col" class="num">Duration</th><th scope="col">SLO</th><th scope="col">Findings</th>
            <th scope="col">Node</th><th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {items.map((p) => (
            <tr key={`${p.cluster}/${p.uid}/${p.kind}/${p.seq}`}>
              <th scope="row">
                <Link href={`/pods/${encodeURIComponent(p.uid)}?delivery=${p.kind}-${p.seq}`}>
                  <span class="ns">{p.namespace}/</span>{p.name}
                </Link>
              </th>
              <td>{p.kind}{p.seq > 0 ? ` #${p.seq}` : ''}</td>
              <td><Outcome outcome={p.outcome} /></td>
              <td class="num">
                <span>{seconds(p.duration_seconds)}{p.finished ? '' : '+'}</span>
                <DurationBar p={p} longest={longest} />
              </td>
              <td><SLOBadge met={p.slo_met} /></td>
              <td>{p.codes.length ? p.codes.map((c) => <span class="code">{c}</span>) : <span class="muted">–</span>}</td>
              <td>{p.node ?? <span class="muted">–</span>}</td>
              <td><time dateTime={p.created} title={time(p.created)}>{ago(p.created)}</time></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// DurationBar: the delivery's length against the longest on the page,
// split into platform and user time.
function DurationBar({ p, longest }: { p: PodSummary; longest: number }) {
  const w = (s: number) => `${Math.max(0, (s / longest) * 100)}%`;
  return (
    <span class="dbar" aria-hidden="true" title={`platform ${seconds(p.platform_seconds)}, user ${seconds(p.user_seconds)}`}>
      <span class="seg platform" style={{ width: w(p.platform_seconds) }} />
      <span class="seg user" style={{ width: w(p.user_seconds) }} />
    </span>
  );
}
