// Browser test of podtrace's UI: a real `podtrace serve` loaded with the
// real kwok-only capture, driven in headless Chromium (Debian's package)
// through playwright-core. Screenshots go to ui/e2e/artifacts/.
//
//   cd ui/e2e && npm ci && npm test        (or: make ui-test)
//
// PODTRACE_BIN may name a built podtrace; otherwise the test builds one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const artifacts = join(here, 'artifacts');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

let tmp, server, base, browser, page;
const consoleErrors = [];
const offsite = [];

function shot(name) {
  return page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

// startServer runs podtrace serve on a free port and resolves its URL from
// the "podtrace serving" log line.
function startServer(bin, db) {
  return new Promise((resolve, reject) => {
    server = spawn(bin, ['serve', '--db', db, '--http-addr', '127.0.0.1:0', '--otlp-grpc-addr=', '--otlp-http-addr=', '--sync', 'NORMAL'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const onData = (b) => {
      log += b;
      const m = log.match(/podtrace serving.*addr=(127\.0\.0\.1:\d+)/);
      if (m) resolve(`http://${m[1]}`);
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', (code) => reject(new Error(`podtrace serve exited ${code}:\n${log}`)));
    setTimeout(() => reject(new Error(`podtrace serve did not start:\n${log}`)), 30000).unref();
  });
}

before(async () => {
  assert.ok(existsSync(chromiumPath), `${chromiumPath} missing: apt-get install -y chromium`);
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'podtrace-ui-'));
  let bin = process.env.PODTRACE_BIN;
  if (!bin) {
    bin = join(tmp, 'podtrace');
    execFileSync('go', ['build', '-o', bin, './cmd/podtrace'], { cwd: repo, stdio: 'inherit' });
  }
  const db = join(tmp, 'ui.db');
  execFileSync(bin, ['replay', '--db', db, join(repo, 'testdata/kwok-only-v1.34.10/audit.log')], { cwd: repo, stdio: 'inherit' });
  base = await startServer(bin, db);

  // a fresh profile: launchPersistentContext passes it as --user-data-dir
  browser = await chromium.launchPersistentContext(join(tmp, 'chromium-profile'), {
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    colorScheme: 'light',
  });
  const ctx = browser;
  // the UI works offline: any request off this server is a failure
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.origin === base || u.protocol === 'data:') return route.continue();
    offsite.push(u.href);
    return route.abort();
  });
  page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const rows = () => page.locator('table.pods tbody tr');

test('pods list loads with outcome badges and durations', async () => {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/pods$/);
  await page.getByRole('heading', { level: 1, name: 'Pods' }).waitFor();
  await rows().first().waitFor();
  const all = (await (await fetch(`${base}/api/v1/pods?limit=1000`)).json()).items;
  assert.ok(all.length >= 19, `the capture has at least 19 deliveries, got ${all.length}`);
  assert.equal(await rows().count(), Math.min(all.length, 50));
  const count = (o) => all.slice(0, 50).filter((p) => p.outcome === o).length;
  assert.equal(await page.locator('table.pods .badge', { hasText: /^ready$/ }).count(), count('ready'));
  assert.equal(await page.locator('table.pods .badge', { hasText: /^pending$/ }).count(), count('pending'));
  assert.ok(count('ready') > 0 && count('pending') >= 2);
  assert.match(await rows().first().locator('td.num').innerText(), /\d/);
  await shot('01-pods');
});

test('search by name and filter by outcome, reflected in the URL', async () => {
  const name = page.getByLabel('name', { exact: true });
  await name.fill('too-big');
  await name.press('Enter');
  await page.waitForURL(/name=too-big/);
  await page.waitForFunction(() => document.querySelectorAll('table.pods tbody tr').length === 1);
  assert.match(await rows().first().innerText(), /too-big/);
  await name.fill('');
  await name.press('Enter');
  await page.waitForURL((u) => !u.search.includes('name='));
  await page.getByLabel('outcome').selectOption('pending');
  await page.waitForURL(/outcome=pending/);
  await page.waitForFunction(() => document.querySelectorAll('table.pods tbody tr').length === 2);
  const text = await page.locator('table.pods tbody').innerText();
  assert.match(text, /too-big/);
  assert.match(text, /no-node/);
  await shot('02-pods-pending');

  // the URL alone restores the view (shareable link, SPA fallback)
  await page.goto(`${base}/pods?namespace=demo&outcome=pending`);
  await page.waitForFunction(() => document.querySelectorAll('table.pods tbody tr').length === 2);
  assert.equal(await page.getByLabel('outcome').inputValue(), 'pending');
  assert.equal(await page.getByLabel('namespace').inputValue(), 'demo');
});

test('a failing pod: findings first, timeline, trace, evidence', async () => {
  await page.getByRole('link', { name: /too-big/ }).click();
  await page.waitForURL(/\/pods\/[0-9a-f-]+\?delivery=create-0/);
  await page.getByRole('heading', { level: 1, name: /too-big/ }).waitFor();
  const uid = new URL(page.url()).pathname.split('/').pop();
  const api = await (await fetch(`${base}/api/v1/pods/${uid}`)).json();
  const d = api.deliveries[0];

  // findings come before the timeline
  const headings = await page.locator('main h2').allInnerTexts();
  assert.ok(headings.indexOf('Findings') >= 0 && headings.indexOf('Findings') < headings.indexOf('Timeline'), headings.join(','));
  // every finding the API has is shown, with its remedy
  for (const f of d.diagnosis) {
    const card = page.locator('.finding', { hasText: f.code });
    await card.waitFor();
    if (f.remedy) assert.match(await card.innerText(), /Remedy/);
  }
  if (d.diagnosis.length === 0) await page.getByText(/No findings/).waitFor();

  // the timeline: a bar per phase, a marker per milestone
  const gantt = page.locator('.gantt');
  await gantt.waitFor();
  assert.equal(await gantt.locator('.row:not(.milestones)').count(), d.phases.length);
  for (const p of d.phases) assert.ok(await gantt.locator('.row .label', { hasText: p.name }).count() === 1, p.name);
  assert.equal(await gantt.locator('.marker').count(), d.milestones.length);
  assert.equal(await page.locator('.bar.platform').count() + await page.locator('.gantt .bar.user').count(), d.phases.length);

  // the trace waterfall: root span and one per phase
  await page.locator('.waterfall .span-name', { hasText: 'pod create demo/too-big' }).waitFor();
  assert.equal(await page.locator('.waterfall li.span').count(), 1 + d.phases.length + (d.spans?.length ?? 0));

  // audit evidence includes the scheduler's verdict
  await page.locator('table.evidence', { hasText: 'FailedScheduling' }).waitFor();
  assert.match(await page.locator('table.evidence').innerText(), /Insufficient/);
  await shot('03-pod-too-big');

  // a span opens its tags with the keyboard
  const root = page.locator('.waterfall .span-name').first();
  await root.focus();
  await page.keyboard.press('Enter');
  await page.locator('.span-detail', { hasText: 'k8s.pod.name' }).waitFor();
  assert.equal(await root.getAttribute('aria-expanded'), 'true');
});

test('a healthy pod shows platform and user time and its milestones', async () => {
  await page.goto(`${base}/pods?outcome=ready&kind=create`);
  await rows().first().waitFor();
  await rows().first().getByRole('link').click();
  await page.locator('.gantt').waitFor();
  assert.ok(await page.locator('.gantt .bar.platform').count() >= 3);
  assert.ok(await page.locator('.gantt .marker').count() >= 5);
  await shot('04-pod-ready');
});

test('SLO page: cards, charts, groups and slowest deliveries', async () => {
  await page.getByRole('link', { name: 'SLO', exact: true }).click();
  await page.waitForURL(/\/slo/);
  await page.locator('.cards').waitFor();
  const deliveries = await page.locator('.cards div', { hasText: 'Deliveries' }).locator('dd').first().innerText();
  const sum = await (await fetch(`${base}/api/v1/slo/summary?kind=create`)).json();
  assert.equal(Number(deliveries), sum.overall.deliveries);
  assert.ok(sum.overall.deliveries > 0);
  await page.locator('table th', { hasText: 'demo' }).first().waitFor();
  assert.ok(await page.locator('table.pods tbody tr').count() > 0, 'slowest deliveries listed');
  await page.getByLabel('group by').selectOption('node');
  await page.waitForURL(/group_by=node/);
  await page.locator('table th', { hasText: 'kwok-node-0' }).first().waitFor();
  await shot('05-slo');
});

test('Diagnoses page links codes to example pods', async () => {
  await page.getByRole('link', { name: 'Diagnoses', exact: true }).click();
  await page.waitForURL(/\/diagnoses/);
  await page.getByRole('heading', { level: 1, name: 'Diagnoses' }).waitFor();
  const sum = await (await fetch(`${base}/api/v1/diagnoses/summary`)).json();
  if (sum.codes.length === 0) {
    await page.getByText('No findings in this window.').waitFor();
  } else {
    for (const c of sum.codes) await page.locator('ol.codes .code', { hasText: c.code }).first().waitFor();
    const ex = sum.codes[0].examples[0];
    await page.locator('ol.codes li').first().getByRole('link', { name: `${ex.namespace}/${ex.name}` }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(ex.name) }).waitFor();
    await page.goBack();
  }
  await page.locator('ol.codes, .empty').first().waitFor();
  await shot('06-diagnoses');
});

test('keyboard: skip link, labelled controls; dark theme', async () => {
  await page.goto(`${base}/pods`);
  await rows().first().waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  for (const label of ['namespace', 'name', 'code', 'node', 'outcome', 'kind', 'finding owner', 'time range']) {
    assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, `control labelled ${label}`);
  }
  await page.getByRole('button', { name: /Switch to dark theme/ }).click();
  // the theme is applied in an effect after the click's render
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark', null, { timeout: 5000 });
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(15, 19, 23)');
  await shot('07-pods-dark');
  await page.goto(`${base}/pods/${(await (await fetch(`${base}/api/v1/pods?name=too-big`)).json()).items[0].uid}`);
  await page.locator('.gantt').waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'the theme is kept');
  await shot('08-pod-dark');
});

test('no console errors, nothing fetched off the server', () => {
  assert.deepEqual(offsite, []);
  assert.deepEqual(consoleErrors, []);
});
