// LineChart: small SVG line chart of series over time, with a table
// fallback for assistive technology.
export interface Series { name: string; points: { t: number; v: number | null }[] }

const W = 900, H = 200, PAD = { l: 48, r: 10, t: 10, b: 24 };

export function LineChart({ series, label, format, max }: { series: Series[]; label: string; format: (v: number) => string; max?: number }) {
  const pts = series.flatMap((s) => s.points.filter((p) => p.v !== null)) as { t: number; v: number }[];
  if (pts.length === 0) return <p class="muted">No data in this window.</p>;
  let t0 = Math.min(...pts.map((p) => p.t)), t1 = Math.max(...pts.map((p) => p.t));
  if (t0 === t1) { t0 -= 1; t1 += 1; }
  const top = max ?? (Math.max(...pts.map((p) => p.v)) * 1.1 || 1);
  const x = (t: number) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v: number) => H - PAD.b - (v / top) * (H - PAD.t - PAD.b);
  const yt = [0, 0.5, 1].map((f) => f * top);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        {yt.map((v) => (
          <g>
            <line x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} class="grid" />
            <text x={PAD.l - 4} y={y(v) + 4} text-anchor="end" class="tick">{format(v)}</text>
          </g>
        ))}
        <text x={PAD.l} y={H - 6} class="tick">{new Date(t0).toLocaleString(undefined, { hour12: false })}</text>
        <text x={W - PAD.r} y={H - 6} text-anchor="end" class="tick">{new Date(t1).toLocaleString(undefined, { hour12: false })}</text>
        {series.map((s, i) => {
          const ps = s.points.filter((p) => p.v !== null) as { t: number; v: number }[];
          return (
            <g class={`line svc-${i % 6}`}>
              <polyline fill="none" points={ps.map((p) => `${x(p.t)},${y(p.v)}`).join(' ')} />
              {ps.map((p) => <circle cx={x(p.t)} cy={y(p.v)} r="3"><title>{`${s.name}: ${format(p.v)} at ${new Date(p.t).toLocaleString()}`}</title></circle>)}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {series.map((s, i) => s.points.some((p) => p.v !== null) && <span class="legend"><span class={`swatch svc-${i % 6}`} /> {s.name || '(none)'}</span>)}
      </figcaption>
    </figure>
  );
}
