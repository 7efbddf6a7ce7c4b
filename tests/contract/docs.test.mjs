// docs.test.mjs — the API reference page at /docs in a real browser
// (Debian's chromium driven by npm's playwright-core) against a real
// `strand serve` on a port chosen at run time (issue #7, item 4): Redoc,
// built into apiref/dist by `make`, fetches the broker's /openapi.yaml and
// renders it. The test sees every operation of openapi.yaml in the page and
// in its menu, the page free of errors, and takes a screenshot.
//
// Run by tests/contract/test_docs.sh (make check), which sets STRAND_BIN,
// SPEC (openapi.yaml), CHROMIUM, PLAYWRIGHT_CORE and SCREENSHOT_DIR.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const WAIT = 30000;   // ms: Redoc parses and lays out ~30 operations

async function until(what, cond, ms = WAIT) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let broker, browser, dir;

before(async () => {
  dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'strand-test-docs-'));
  const portFile = join(dir, 'port');
  const err = [];
  const proc = spawn(process.env.STRAND_BIN, ['serve', '--listen', '127.0.0.1:0',
    '--port-file', portFile, '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.on('data', (d) => err.push(d));
  let exited = false;
  proc.on('exit', () => { exited = true; });
  const port = await until('the broker to listen', async () => {
    if (exited) throw new Error(`strand exited: ${Buffer.concat(err)}`);
    return existsSync(portFile) && Number(readFileSync(portFile, 'utf8').trim());
  });
  const url = `http://127.0.0.1:${port}`;
  await until('/healthz', async () => (await fetch(`${url}/healthz`)).ok);
  broker = {
    url,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        await until('the broker to stop', async () => exited, 15000).catch(() => proc.kill('SIGKILL'));
      }
    },
  };
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM,
                                    args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('/docs renders every operation of openapi.yaml with Redoc', async () => {
  const spec = readFileSync(process.env.SPEC, 'utf8');
  const operations = [...spec.matchAll(/^ {6}operationId: (\w+)$/gm)].map((m) => m[1]);
  assert.ok(operations.length >= 20, `operationIds found in openapi.yaml: ${operations.length}`);

  // the page and the document it renders come from the broker itself
  const res = await fetch(`${broker.url}/docs/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  assert.equal((await (await fetch(`${broker.url}/openapi.yaml`)).text()), spec);

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`); });
  await page.goto(`${broker.url}/docs/`);

  // Redoc gives each operation a section with id "operation/<operationId>"
  await until('Redoc to render the operations', async () =>
    (await page.locator('[id^="operation/"]').count()) >= operations.length);
  for (const op of operations)
    assert.equal(await page.locator(`[id="operation/${op}"]`).count(), 1, `operation ${op} rendered`);
  assert.match(await page.title(), /strand/);
  // the menu lists the tags and, under them, the operations' summaries
  const menu = await page.locator('.menu-content').textContent();
  for (const tag of ['topics', 'produce', 'fetch', 'groups', 'operations'])
    assert.match(menu.toLowerCase(), new RegExp(tag), `menu has tag ${tag}`);
  assert.match(menu, /Create a topic/);
  // an operation's example request body is shown (openapi.yaml has one per body)
  await page.goto(`${broker.url}/docs/#operation/createTopic`);
  await until('the createTopic example', async () =>
    (await page.locator('text=604800000').count()) > 0);

  mkdirSync(process.env.SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'docs.png') });
  // Redoc's footer ("API docs by Redocly") links its logo from Redocly's CDN;
  // the page's CSP blocks it, so nothing leaves the machine, and Redoc drops
  // the image when it fails. Anything else is a problem.
  assert.deepEqual(problems.filter((p) => !p.includes('https://cdn.redoc.ly/redoc/logo-mini.svg')), []);
  await page.close();
});
