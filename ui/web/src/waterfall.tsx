// Waterfall: the spans of a delivery trace as a tree of bars on one time
// axis; a span's name opens its tags and logs.
import { useState } from 'preact/hooks';
import type { JaegerSpan, JaegerTrace } from './api';
import { seconds } from './format';

interface Row { span: JaegerSpan; depth: number; service: string }

function rows(t: JaegerTrace): Row[] {
  const ids = new Set(t.spans.map((s) => s.spanID));
  const children = new Map<string, JaegerSpan[]>();
  const roots: JaegerSpan[] = [];
  for (const s of t.spans) {
    const parent = s.references.find((r) => r.refType === 'CHILD_OF' && ids.has(r.spanID));
    if (!parent) roots.push(s);
    else children.set(parent.spanID, [...(children.get(parent.spanID) ?? []), s]);
  }
  const out: Row[] = [];
  const walk = (s: JaegerSpan, depth: number) => {
    out.push({ span: s, depth, service: t.processes[s.processID]?.serviceName ?? '?' });
    for (const c of (children.get(s.spanID) ?? []).sort((a, b) => a.startTime - b.startTime)) walk(c, depth + 1);
  };
  roots.sort((a, b) => a.startTime - b.startTime).forEach((r) => walk(r, 0));
  return out;
}

export function Waterfall({ trace }: { trace: JaegerTrace }) {
  const rs = rows(trace);
  const t0 = Math.min(...trace.spans.map((s) => s.startTime));
  const t1 = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
  const span = Math.max(t1 - t0, 1);
  const services = [...new Set(rs.map((r) => r.service))];
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div class="waterfall">
      <p class="legend-row">
        {services.map((s, i) => <span class="legend"><span class={`swatch svc-${i % 6}`} /> {s}</span>)}
      </p>
      <ol class="spans" aria-label={`${rs.length} spans`}>
        {rs.map(({ span: s, depth, service }) => {
          const left = ((s.startTime - t0) / span) * 100;
          const width = Math.max((s.duration / span) * 100, 0.3);
          const err = s.tags.some((t) => t.key === 'error' && t.value === true);
          const isOpen = open === s.spanID;
          return (
            <li class={err ? 'span error' : 'span'}>
              <div class="span-row">
                <button type="button" class="span-name" style={{ paddingLeft: `${depth * 1.1 + 0.3}em` }}
                  aria-expanded={isOpen} onClick={() => setOpen(isOpen ? null : s.spanID)}>
                  <span class="svc">{service}</span> {s.operationName}
                </button>
                <span class="track">
                  <span class={`bar svc-${services.indexOf(service) % 6}`} style={{ left: `${Math.min(left, 99.7)}%`, width: `${width}%` }} />
                </span>
                <span class="dur">{seconds(s.duration / 1e6)}</span>
              </div>
              {isOpen && (
                <div class="span-detail">
                  <dl class="kv">
                    <div><dt>span</dt><dd class="mono">{s.spanID}</dd></div>
                    {s.tags.map((t) => <div><dt>{t.key}</dt><dd>{String(t.value)}</dd></div>)}
                  </dl>
                  {s.logs.length > 0 && (
                    <ul class="logs">
                      {s.logs.map((l) => (
                        <li>+{seconds((l.timestamp - t0) / 1e6)}: {l.fields.map((f) => `${f.key}=${String(f.value)}`).join(' · ')}</li>
                      ))}
                    </ul>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ol>
    </div>
  );
}
