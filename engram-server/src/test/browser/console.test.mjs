// Browser test of the web console in real headless Chromium (the system's /usr/bin/chromium,
// driven by playwright-core). It starts `./engram serve` on free ports and a temporary data
// directory (or uses ENGRAM_URL when set), then, at 1280x800:
//   1. the console loads and reaches the server;
//   2. it creates a space through the form and opens its live view (WebSocket session);
//   3. the demo generator streams 5,000 observations from the page; all are acknowledged;
//   4. the accepted / indexed watermarks reach 5,000 and the charts move;
//   5. "More like this" on a listed observation recalls hits whose top-1 is that observation;
//   6. a screenshot is saved (ENGRAM_SCREENSHOT, default engram-server/target/browser/console.png).
// Exit status 0 on success, 1 on a failed check (with the server's log tail).
//
// Env: ENGRAM_LAUNCHER (default: the repository's ./engram), ENGRAM_CHROMIUM (default
// /usr/bin/chromium), ENGRAM_URL (test a running server instead), ENGRAM_SCREENSHOT.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../../..');
const LAUNCHER = process.env.ENGRAM_LAUNCHER ?? join(ROOT, 'engram');
const CHROMIUM = process.env.ENGRAM_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = resolve(process.env.ENGRAM_SCREENSHOT ?? join(ROOT, 'engram-server/target/browser/console.png'));
const OBSERVATIONS = 5000;
const SPACE = `browser-test-${Date.now().toString(36)}`;

const temps = [];
let server = null;
let serverLog = null;
let browser = null;

function log(msg) {
  process.stderr.write(`[browser-test] ${msg}\n`);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function startServer() {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'engram-browser-data-'));
  temps.push(dataDir);
  serverLog = join(dataDir, '..', `${dataDir.split('/').pop()}.log`);
  const out = createWriteStream(serverLog);
  log(`starting ${LAUNCHER} serve --http-port ${port} --grpc-port 0 --data-dir ${dataDir}`);
  server = spawn(LAUNCHER, ['serve', '--http-port', String(port), '--grpc-port', '0', '--data-dir', dataDir, '--auth', 'off'], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.pipe(out);
  server.stderr.pipe(out);
  const exited = new Promise((res) => server.once('exit', (code) => res(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const code = await Promise.race([exited, sleep(250).then(() => undefined)]);
    if (code !== undefined) throw new Error(`engram serve exited with ${code} before it listened`);
    try {
      const res = await fetch(`${url}/v1/spaces`);
      if (res.ok) return url;
    } catch {
      // not listening yet
    }
  }
  throw new Error('engram serve did not answer GET /v1/spaces within 120 s');
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((res) => server.once('exit', res));
  try {
    process.kill(-server.pid, 'SIGTERM'); // the launcher and the JVM it exec'd: our own group
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }, 20_000);
  await exited;
  clearTimeout(t);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  log(`ok: ${what}`);
}

const text = (page, testid) => page.getByTestId(testid).innerText();
const numberIn = async (page, testid) => Number((await text(page, testid)).replace(/[^0-9.]/g, ''));

async function run() {
  const base = process.env.ENGRAM_URL ?? (await startServer());
  log(`server at ${base}`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'engram-chromium-'));
  temps.push(userDataDir);
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => d.accept());

  // 1. loads and reaches the server
  await page.goto(base);
  await page.getByText('online', { exact: true }).waitFor({ timeout: 15_000 });
  check(true, 'console loaded and reached the server');

  // 2. create a space and open it
  await page.getByTestId('create-id').fill(SPACE);
  await page.getByTestId('create-dim').fill('64');
  await page.getByTestId('create-submit').click();
  await page.getByTestId('space-view').waitFor({ state: 'visible', timeout: 15_000 });
  check((await text(page, 'space-title')) === SPACE, `space ${SPACE} created and opened`);
  await page.locator('[data-testid="space-list"] li', { hasText: SPACE }).first().waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => /active|resumed/.test(document.querySelector('[data-testid="stream-state"]').textContent), null, { timeout: 15_000 });
  check(true, 'WebSocket session established');
  const chartBefore = await page.getByTestId('chart-watermarks').evaluate((c) => c.toDataURL());

  // 3. stream 5,000 observations from the page
  await page.getByTestId('gen-rate').fill('5000');
  await page.getByTestId('gen-count').fill(String(OBSERVATIONS));
  const started = Date.now();
  await page.getByTestId('gen-start').click();
  await page.waitForFunction((n) => {
    const el = document.querySelector('[data-testid="gen-stats"]');
    return el.dataset.done === 'true' && Number(el.dataset.acked) === n;
  }, OBSERVATIONS, { timeout: 90_000, polling: 100 });
  check(true, `${OBSERVATIONS} observations streamed and acknowledged in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // 4. watermarks and charts
  await page.waitForFunction((n) => {
    const v = (id) => Number(document.querySelector(`[data-testid="${id}"]`).textContent.replace(/[^0-9]/g, ''));
    return v('t-accepted') >= n && v('t-indexed') >= n && v('t-episodes') >= n;
  }, OBSERVATIONS, { timeout: 60_000, polling: 100 });
  check(await numberIn(page, 't-accepted') >= OBSERVATIONS, `accepted watermark ${await text(page, 't-accepted')}`);
  check(await numberIn(page, 't-indexed') >= OBSERVATIONS, `indexed watermark ${await text(page, 't-indexed')}`);
  check(await numberIn(page, 't-episodes') >= OBSERVATIONS, `episode count ${await text(page, 't-episodes')}`);
  const points = Number(await page.getByTestId('chart-watermarks').getAttribute('data-points'));
  const chartAfter = await page.getByTestId('chart-watermarks').evaluate((c) => c.toDataURL());
  check(points >= 4 && chartAfter !== chartBefore, `watermark chart moved (${points} samples)`);
  const maxRate = await page.evaluate(() => Math.max(...window.engramConsole.charts.rate.samples.map((s) => s.rate)));
  check(maxRate > 0, `ingest rate chart saw ${Math.round(maxRate)} obs/s`);

  // 5. recall: "More like this" on a listed observation finds that observation first
  const item = page.locator('[data-testid="recent"] li[data-episode]').first();
  const source = await item.getAttribute('data-episode');
  await item.getByTestId('more-like-this').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="recall-info"]').dataset.top !== undefined
    && document.querySelectorAll('#hits-body tr').length > 0, null, { timeout: 15_000 });
  const rows = await page.locator('#hits-body tr').count();
  const top = await page.locator('#hits-body tr').first().getAttribute('data-episode');
  const topScore = Number(await page.locator('#hits-body tr').first().locator('.score .mono').innerText());
  check(rows >= 2, `recall shows ${rows} hits`);
  check(top === source, `top-1 hit ${top} is the source episode ${source} (score ${topScore})`);
  check(topScore > 0.999, 'top-1 score is ~1');

  // 6. screenshot
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: SCREENSHOT });
  log(`screenshot: ${SCREENSHOT}`);

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  check(!overflow, 'no horizontal overflow at 1280x800');
  check(pageErrors.length === 0, `no page errors${pageErrors.length ? `: ${pageErrors.join(' | ')}` : ''}`);
}

let failed = false;
try {
  await run();
  log('PASSED');
  if (serverLog) temps.push(serverLog);
} catch (e) {
  failed = true;
  log(`FAILED: ${e.stack ?? e}`);
  if (serverLog) {
    try {
      const lines = readFileSync(serverLog, 'utf8').trimEnd().split('\n');
      log(`last lines of the server log (${serverLog}):\n${lines.slice(-40).join('\n')}`);
    } catch {
      // no log
    }
  }
} finally {
  await browser?.close().catch(() => {});
  await stopServer();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
