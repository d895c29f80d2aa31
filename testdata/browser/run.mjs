// The real-browser round trip, end to end:
//   1. headless Chromium (Debian's chromium, driven by playwright-core) opens page.html,
//      which fills IndexedDB with Dexie and exports it with dexie-export-import;
//   2. idbsync converts the export, queries it, and downloads every table as a Dexie export;
//   3. the page imports each download with stock importInto into a fresh database and
//      compares every record with the original, strictly (Dates, Blobs' bytes and types,
//      ArrayBuffers, typed arrays, Maps, Sets, BigInts, RegExps, NaN/±Infinity, keys,
//      null vs undefined vs absent).
//
// node run.mjs --idbsync PATH [--chromium /usr/bin/chromium] [--keep DIR]
// Exits 1 on any difference, printing them.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const idbsync = args.idbsync;
if (!idbsync || !existsSync(idbsync)) {
  console.error('usage: node run.mjs --idbsync PATH_TO_IDBSYNC [--chromium PATH]');
  process.exit(2);
}
const executablePath = args.chromium ?? '/usr/bin/chromium';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' };

/** Serves this folder (page, script, node_modules) on a free loopback port. */
function serve() {
  const server = createServer((req, res) => {
    const rel = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '');
    const file = join(here, rel || 'page.html');
    if (!file.startsWith(here) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function run(cmd) {
  console.log(`$ idbsync ${cmd.join(' ')}`);
  return execFileSync(idbsync, cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

const work = args.keep ?? mkdtempSync(join(tmpdir(), 'idbsync-browser-'));
mkdirSync(work, { recursive: true });
const server = await serve();
const { port } = server.address();
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let failed = false;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`http://127.0.0.1:${port}/page.html`);
  await page.waitForFunction(() => window.idbsyncReady === true);
  const counts = await page.evaluate(() => window.idbsync.fill());
  console.log(`IndexedDB filled in ${browser.version()}: ${JSON.stringify(counts)}`);
  const exported = await page.evaluate(() => window.idbsync.exportDb());
  const exportFile = join(work, 'browsershop.json');
  writeFileSync(exportFile, exported);

  const out = join(work, 'out');
  const summary = JSON.parse(run(['convert', exportFile, '--out', out, '--partition-by', 'day(created)', '--json', '--quiet']));
  for (const s of summary.stores) {
    if (s.counts.written !== counts[s.store]) {
      console.error(`convert: ${s.store} wrote ${s.counts.written} of ${counts[s.store]} records`);
      failed = true;
    }
  }
  const q = JSON.parse(run(['query', out, 'SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY status', '--format', 'json']));
  const queried = q.reduce((n, r) => n + r.n, 0);
  console.log(`query: ${JSON.stringify(q)}`);
  if (queried !== counts.orders) {
    console.error(`query: counted ${queried} orders, the browser stored ${counts.orders}`);
    failed = true;
  }

  const tables = await page.evaluate(() => window.idbsync.tables);
  for (const t of tables) {
    const file = join(work, `${t}.download.json`);
    run(['download', out, '--table', t, '--to', file, '--format', 'dexie']);
    const result = await page.evaluate(([name, text]) => window.idbsync.check(name, text), [t, readFileSync(file, 'utf8')]);
    if (result.problems.length) {
      failed = true;
      console.error(`${t}: ${result.problems.length} difference(s) after import:\n  ${result.problems.join('\n  ')}`);
    } else {
      console.log(`${t}: ${result.rows} rows imported by stock importInto, every record equal to the original`);
    }
  }
  // The comparison must be able to fail: a download with one Blob's type changed and
  // one Date moved by a millisecond has to be caught.
  const blobs = readFileSync(join(work, 'blobs.download.json'), 'utf8');
  const tampered = blobs.replace('image/png', 'image/gif');
  const orders = readFileSync(join(work, 'orders.download.json'), 'utf8');
  const moved = orders.replace(/"created":(\d+)/, (_, ms) => `"created":${Number(ms) + 1}`);
  for (const [name, text] of [['blobs', tampered], ['orders', moved]]) {
    const r = await page.evaluate(([n, t]) => window.idbsync.check(n, t), [name, text]);
    if (text === (name === 'blobs' ? blobs : orders) || r.problems.length === 0) {
      failed = true;
      console.error(`${name}: a tampered download was not caught (${r.problems.length} problems)`);
    } else {
      console.log(`${name}: a tampered download is caught: ${r.problems[0]}`);
    }
  }
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  server.close();
  if (!args.keep) rmSync(work, { recursive: true, force: true });
}
console.log(failed ? 'browser round trip: FAILED' : 'browser round trip: ok');
process.exit(failed ? 1 : 0);
