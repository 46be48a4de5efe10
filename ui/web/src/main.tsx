// podtrace's web UI: pods, one pod's deliveries, SLO and diagnoses. The URL
// holds every page's state; the API is podtrace's /api/v1.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Link } from './components';
import { Diagnoses } from './pages/Diagnoses';
import { Pod } from './pages/Pod';
import { Pods } from './pages/Pods';
import { SLO } from './pages/SLO';
import { navigate, useLocation } from './router';
import './style.css';

function ThemeToggle() {
  const initial = () => document.documentElement.dataset.theme
    ?? (window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  const [theme, setTheme] = useState<string>(initial);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const next = theme === 'dark' ? 'light' : 'dark';
  return (
    <button type="button" class="theme" aria-label={`Switch to ${next} theme`} title={`Switch to ${next} theme`}
      onClick={() => { setTheme(next); try { localStorage.setItem('podtrace-theme', next); } catch { /* private mode */ } }}>
      {theme === 'dark' ? '☀' : '☾'}
    </button>
  );
}

function App() {
  const loc = useLocation();
  const main = useRef<HTMLElement>(null);
  const path = loc.path.replace(/\/+$/, '') || '/';
  useEffect(() => {
    if (path === '/') navigate('/pods', true);
  }, [path]);
  // move focus to the new page, as a full page load would
  const first = useRef(true);
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    main.current?.focus();
  }, [path]);

  let page;
  let section = '';
  const podMatch = path.match(/^\/pods\/([^/]+)$/);
  if (path === '/pods' || path === '/') { page = <Pods loc={loc} />; section = 'pods'; }
  else if (podMatch) { page = <Pod uid={decodeURIComponent(podMatch[1])} loc={loc} />; section = 'pods'; }
  else if (path === '/slo') { page = <SLO loc={loc} />; section = 'slo'; }
  else if (path === '/diagnoses') { page = <Diagnoses loc={loc} />; section = 'diagnoses'; }
  else page = <section><h1>Not found</h1><p>No page at {path}. <Link href="/pods">Pods</Link></p></section>;

  useEffect(() => {
    const h1 = document.querySelector('main h1');
    document.title = h1?.textContent ? `${h1.textContent} · podtrace` : 'podtrace';
  });

  const nav = (href: string, id: string, label: string) => (
    <li><Link href={href} aria-current={section === id ? 'page' : undefined}>{label}</Link></li>
  );
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <Link href="/pods" class="brand"><span aria-hidden="true">▤</span> podtrace</Link>
        <nav aria-label="Main">
          <ul>
            {nav('/pods', 'pods', 'Pods')}
            {nav('/slo', 'slo', 'SLO')}
            {nav('/diagnoses', 'diagnoses', 'Diagnoses')}
          </ul>
        </nav>
        <span class="spacer" />
        <a class="small" href="/openapi.json">API</a>
        <ThemeToggle />
      </header>
      <main id="main" ref={main} tabIndex={-1}>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
