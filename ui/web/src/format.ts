// Formatting of durations, times and ranges shared by the pages.

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || Number.isNaN(s)) return '–';
  if (s < 0.001) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} m`;
}

export function ms(a: string, b: string): number {
  return Date.parse(b) - Date.parse(a);
}

export function time(t: string | null | undefined): string {
  if (!t) return '–';
  const d = new Date(t);
  return d.toLocaleString(undefined, { hour12: false, year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function clock(t: string | number): string {
  const d = new Date(t);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function ago(t: string, now = Date.now()): string {
  const s = (now - Date.parse(t)) / 1000;
  if (s < 0) return 'in the future';
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function percent(r: number | null | undefined): string {
  if (r === null || r === undefined) return '–';
  return `${(r * 100).toFixed(r === 1 || r === 0 ? 0 : 1)} %`;
}

// Time ranges offered by the pages, as URL values.
export const ranges: [string, string, number][] = [
  ['15m', 'last 15 minutes', 15 * 60],
  ['1h', 'last hour', 3600],
  ['6h', 'last 6 hours', 6 * 3600],
  ['24h', 'last 24 hours', 86400],
  ['7d', 'last 7 days', 7 * 86400],
  ['30d', 'last 30 days', 30 * 86400],
  ['all', 'all time', 0],
];

// since turns a range value into the API's `since`, or undefined for all time.
export function since(range: string | undefined, now = Date.now()): string | undefined {
  const r = ranges.find(([v]) => v === range);
  if (!r || r[2] === 0) return undefined;
  return new Date(now - r[2] * 1000).toISOString();
}

