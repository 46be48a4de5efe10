// A small history router: the URL (path and query) is the state of every
// page, so any view can be shared as a link.
import { useEffect, useState } from 'preact/hooks';

export interface Location { path: string; query: URLSearchParams }

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false) {
  if (to === window.location.pathname + window.location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((l) => l());
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const l = () => setLoc(current());
    listeners.add(l);
    return () => { listeners.delete(l); };
  }, []);
  return loc;
}

// withQuery returns path?query with the given params set (empty values removed).
export function withQuery(path: string, base: URLSearchParams, set: Record<string, string | undefined>): string {
  const q = new URLSearchParams(base);
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// onLink makes a plain <a href> navigate inside the app on a normal click.
export function onLink(e: MouseEvent) {
  const a = (e.currentTarget as HTMLAnchorElement);
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  e.preventDefault();
  navigate(a.getAttribute('href')!);
}
