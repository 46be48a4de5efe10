// Pod: one pod's deliveries. For the selected delivery: findings (with
// evidence and remedy) first, the SLO verdict, the timeline of phases and
// milestones, the trace waterfall, then the audit evidence.
import { get, type DeliveryRecord, type Finding, type JaegerTrace, type Pod as PodT } from '../api';
import { Link, Loading, OwnerTag, Outcome, Problem, useFetch } from '../components';
import { clock, seconds, time } from '../format';
import { withQuery, type Location } from '../router';
import { Timeline } from '../timeline';
import { Waterfall } from '../waterfall';

export function Pod({ uid, loc }: { uid: string; loc: Location }) {
  const pod = useFetch<PodT>((signal) => get<PodT>(`/api/v1/pods/${encodeURIComponent(uid)}`, {}, signal), [uid]);
  if (pod.error) return <section><h1>Pod {uid}</h1><Problem error={pod.error} /></section>;
  if (!pod.data) return <Loading />;
  const p = pod.data;
  const want = loc.query.get('delivery');
  const d = p.deliveries.find((d) => `${d.kind}-${d.seq}` === want) ?? p.deliveries[0];
  const key = `${d.kind}-${d.seq}`;
  return (
    <article aria-labelledby="pod-title">
      <div class="page-head">
        <h1 id="pod-title"><span class="ns">{p.namespace}/</span>{p.name}</h1>
        <p class="muted small">uid {p.uid} · cluster {p.cluster}</p>
      </div>
      <nav class="tabs" aria-label="Deliveries">
        {p.deliveries.map((x) => {
          const k = `${x.kind}-${x.seq}`;
          return (
            <Link href={withQuery(`/pods/${encodeURIComponent(uid)}`, loc.query, { delivery: k })} class="tab"
              aria-current={k === key ? 'page' : undefined}>
              {x.kind}{x.seq > 0 ? ` #${x.seq}` : ''} <Outcome outcome={x.outcome} />
            </Link>
          );
        })}
      </nav>
      <Delivery d={d} />
      <section aria-labelledby="evidence-title">
        <h2 id="evidence-title">Audit evidence</h2>
        <p class="small"><a href={`/api/v1/pods/${encodeURIComponent(uid)}/events`}>Raw audit events (JSON, redacted)</a></p>
        <div class="table-wrap">
          <table class="evidence">
            <caption class="sr-only">Audit events about the pod, in time order</caption>
            <thead><tr><th scope="col">Time</th><th scope="col">Request</th><th scope="col">User</th><th scope="col">What it shows</th><th scope="col">Audit ID</th></tr></thead>
            <tbody>
              {p.evidence.map((e) => (
                <tr id={`audit-${e.audit_id}`}>
                  <td><time dateTime={e.time} title={time(e.time)}>{clock(e.time)}</time></td>
                  <td>{e.verb} {e.resource} <span class={e.code >= 400 ? 'bad' : 'muted'}>{e.code || ''}</span></td>
                  <td class="small">{e.user}</td>
                  <td>{e.summary}</td>
                  <td class="mono small">{e.audit_id.slice(0, 8)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </article>
  );
}

function Delivery({ d }: { d: DeliveryRecord }) {
  const total = (Date.parse(d.finished ?? lastTime(d)) - Date.parse(d.created)) / 1000;
  return (
    <>
      <section aria-labelledby="findings-title" class="findings">
        <h2 id="findings-title">Findings</h2>
        {d.diagnosis.length === 0
          ? <p class="muted">No findings{d.outcome === 'pending' || d.outcome === 'running' ? ' yet' : ''}.</p>
          : <ol class="finding-list">{d.diagnosis.map((f) => <FindingCard f={f} />)}</ol>}
      </section>
      <section aria-labelledby="summary-title" class="summary">
        <h2 id="summary-title" class="sr-only">Summary</h2>
        <dl class="facts">
          <div><dt>Outcome</dt><dd><Outcome outcome={d.outcome} /></dd></div>
          <div><dt>Duration</dt><dd>{seconds(total)}{d.finished ? '' : ' (open)'}</dd></div>
          <div><dt>SLO</dt><dd><SLOVerdict d={d} /></dd></div>
          <div><dt>Created</dt><dd><time dateTime={d.created}>{time(d.created)}</time></dd></div>
          <div><dt>Node</dt><dd>{d.node ?? '–'}</dd></div>
          <div><dt>Owner</dt><dd>{d.owner_kind ? `${d.owner_kind}/${d.owner_name}` : '–'}</dd></div>
        </dl>
      </section>
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <Timeline d={d} />
      </section>
      <section aria-labelledby="trace-title">
        <h2 id="trace-title">Trace</h2>
        {d.trace_id ? <Trace id={d.trace_id} /> : <p class="muted">No trace.</p>}
      </section>
    </>
  );
}

function lastTime(d: DeliveryRecord): string {
  let t = d.created;
  for (const m of d.milestones) if (m.time > t) t = m.time;
  for (const p of d.phases) if (p.end > t) t = p.end;
  return t;
}

function SLOVerdict({ d }: { d: DeliveryRecord }) {
  const s = d.slo;
  if (!s) return <span class="muted">no verdict</span>;
  const verdict = s.met === null ? <span class="badge tone-wait">open</span>
    : s.met ? <span class="badge tone-good">met</span> : <span class="badge tone-bad">missed</span>;
  return (
    <span>
      {verdict} {seconds(s.total_seconds)} of {seconds(s.target_seconds)} target
      <span class="small muted"> · platform {seconds(s.platform_seconds)}, user {seconds(s.user_seconds)} · rule {s.rule}</span>
    </span>
  );
}

function FindingCard({ f }: { f: Finding }) {
  return (
    <li class={`finding finding-${f.owner}`}>
      <p class="finding-head">
        <strong class="code">{f.code}</strong> <span class="muted">in</span> {f.phase || 'delivery'} <OwnerTag owner={f.owner} />
      </p>
      <p class="finding-msg">{f.message}</p>
      {f.remedy && <p class="remedy"><strong>Remedy:</strong> {f.remedy}</p>}
      {f.evidence.length > 0 && (
        <details open>
          <summary>Evidence ({f.evidence.length})</summary>
          <ul class="ev">
            {f.evidence.map((e) => (
              <li><time dateTime={e.time}>{clock(e.time)}</time> <a class="mono small" href={`#audit-${e.audit_id}`}>{e.audit_id.slice(0, 8)}</a> {e.text}</li>
            ))}
          </ul>
        </details>
      )}
    </li>
  );
}

function Trace({ id }: { id: string }) {
  const t = useFetch<{ data: JaegerTrace[] | null }>((signal) => get(`/api/traces/${id}`, {}, signal), [id]);
  if (t.error) return <Problem error={t.error} />;
  if (!t.data) return <Loading />;
  const trace = t.data.data?.[0];
  if (!trace) return <p class="muted">Trace not found.</p>;
  return (
    <>
      <p class="small muted">trace <span class="mono">{id}</span> · <a href={`/api/traces/${id}`}>Jaeger JSON</a></p>
      <Waterfall trace={trace} />
    </>
  );
}
