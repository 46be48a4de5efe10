// Timeline: a delivery's phases as a Gantt chart (platform and user time in
// two colours), its milestones on their own row, and the same facts as a
// list for screen readers and copying.
import type { DeliveryRecord } from './api';
import { clock, seconds } from './format';

export function Timeline({ d }: { d: DeliveryRecord }) {
  const t0 = Date.parse(d.created);
  let t1 = d.finished ? Date.parse(d.finished) : t0;
  for (const p of d.phases) t1 = Math.max(t1, Date.parse(p.end));
  for (const m of d.milestones) t1 = Math.max(t1, Date.parse(m.time));
  const span = Math.max(t1 - t0, 1);
  const x = (t: string) => ((Date.parse(t) - t0) / span) * 100;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  if (d.phases.length === 0 && d.milestones.length === 0) return <p class="muted">No phases recorded.</p>;
  return (
    <figure class="timeline">
      <div class="gantt" role="img" aria-label={`Gantt chart of ${d.phases.length} phases over ${seconds(span / 1000)}`}>
        <div class="axis" aria-hidden="true">
          {ticks.map((f) => <span style={{ left: `${f * 100}%` }}>+{seconds((f * span) / 1000)}</span>)}
        </div>
        {d.phases.map((p) => {
          const left = x(p.start);
          const width = Math.max(x(p.end) - left, 0.4);
          return (
            <div class="row" key={p.name}>
              <span class="label">{p.name}</span>
              <span class="track">
                <span class={`bar ${p.owner}`} style={{ left: `${Math.min(left, 99.6)}%`, width: `${width}%` }}
                  title={`${p.name} (${p.owner}): ${seconds(Date.parse(p.end) / 1000 - Date.parse(p.start) / 1000)}`} />
              </span>
              <span class="dur">{seconds((Date.parse(p.end) - Date.parse(p.start)) / 1000)}</span>
            </div>
          );
        })}
        <div class="row milestones">
          <span class="label">milestones</span>
          <span class="track">
            {d.milestones.map((m) => (
              <span class="marker" style={{ left: `${x(m.time)}%` }} title={`${m.name} at +${seconds((Date.parse(m.time) - t0) / 1000)}`} />
            ))}
          </span>
          <span class="dur" />
        </div>
      </div>
      <figcaption>
        <span class="legend"><span class="swatch platform" /> platform</span>
        <span class="legend"><span class="swatch user" /> user</span>
        <span class="legend"><span class="swatch marker-swatch" /> milestone</span>
      </figcaption>
      <details class="timeline-list">
        <summary>Phases and milestones as a list</summary>
        <div class="cols">
          <table>
            <caption>Phases</caption>
            <thead><tr><th scope="col">Phase</th><th scope="col">Owner</th><th scope="col">Start</th><th scope="col" class="num">Duration</th></tr></thead>
            <tbody>
              {d.phases.map((p) => (
                <tr><th scope="row">{p.name}</th><td>{p.owner}</td><td>+{seconds((Date.parse(p.start) - t0) / 1000)}</td>
                  <td class="num">{seconds((Date.parse(p.end) - Date.parse(p.start)) / 1000)}</td></tr>
              ))}
            </tbody>
          </table>
          <table>
            <caption>Milestones</caption>
            <thead><tr><th scope="col">Milestone</th><th scope="col">Time</th><th scope="col">Audit ID</th></tr></thead>
            <tbody>
              {d.milestones.map((m) => (
                <tr><th scope="row">{m.name}</th><td><time dateTime={m.time}>{clock(m.time)}</time> (+{seconds((Date.parse(m.time) - t0) / 1000)})</td>
                  <td class="mono small"><a href={`#audit-${m.audit_id}`}>{m.audit_id.slice(0, 8)}</a></td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
