// Small components and hooks shared by the pages.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { APIError } from './api';
import { onLink } from './router';

export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined }) {
  return <a href={props.href} class={props.class} aria-current={props['aria-current']} onClick={onLink}>{props.children}</a>;
}

const outcomeTone: Record<string, string> = {
  ready: 'good', succeeded: 'good', deleted: 'neutral', evicted: 'warn',
  failed: 'bad', pending: 'wait', running: 'wait',
};

export function Outcome({ outcome }: { outcome: string }) {
  return <span class={`badge tone-${outcomeTone[outcome] ?? 'neutral'}`}>{outcome}</span>;
}

export function SLOBadge({ met }: { met: boolean | null | undefined }) {
  if (met === null || met === undefined) return <span class="muted" title="no SLO verdict">–</span>;
  return met ? <span class="badge tone-good">met</span> : <span class="badge tone-bad">missed</span>;
}

export function OwnerTag({ owner }: { owner: string }) {
  return <span class={`owner owner-${owner}`}>{owner}</span>;
}

export interface Fetched<T> { data?: T; error?: APIError | Error; loading: boolean }

// useFetch loads while deps change; with everyMs, it also reloads on a timer
// (the live list), keeping the previous data while reloading.
export function useFetch<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], everyMs = 0): Fetched<T> {
  const [state, setState] = useState<Fetched<T>>({ loading: true });
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let ctl = new AbortController();
    let timer: number | undefined;
    const run = (first: boolean) => {
      if (first) setState((s) => ({ data: s.data, loading: true }));
      loadRef.current(ctl.signal).then(
        (data) => setState({ data, loading: false }),
        (error) => { if (!ctl.signal.aborted) setState((s) => ({ data: first ? undefined : s.data, error, loading: false })); },
      ).finally(() => {
        if (everyMs > 0 && !ctl.signal.aborted) timer = window.setTimeout(() => run(false), everyMs);
      });
    };
    run(true);
    return () => { ctl.abort(); window.clearTimeout(timer); };
  }, [...deps, everyMs]);
  return state;
}

export function Problem({ error }: { error: Error }) {
  return <p class="problem" role="alert">{error instanceof APIError ? `${error.message} (${error.code})` : error.message}</p>;
}

export function Loading() {
  return <p class="muted" aria-live="polite">Loading…</p>;
}

// Field is a labelled form control; the control must carry the id. (A
// label wrapping a select would add the selected option to its name.)
export function Field(props: { label: string; id: string; children: ComponentChildren }) {
  return <div class="field"><label for={props.id}>{props.label}</label>{props.children}</div>;
}
