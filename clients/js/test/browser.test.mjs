// The client in headless Chromium (Debian's chromium, driven by playwright-core), as an
// ES module with no bundler (an import map), against a real `idbsync serve` on another
// origin (CORS): two browser contexts are two devices that must converge to the same
// records, Blobs, Dates, Maps, Sets, BigInts included; a wrong token is a SyncError
// 'auth' in the browser too. Needs IDBSYNC_BIN and a Chromium (CHROMIUM, default
// /usr/bin/chromium); skipped with a message without them. The same devices then sync
// with a server whose root is on the project's test HDFS (scripts/minidfs.sh): `idbsync
// query` over hdfs:// sees exactly the browser's records, and a server-side result
// (`query --create`) pulled into the browser deep-equals what the SQL produced. Outside CI,
// IDBSYNC_SKIP_HDFS=1 skips the HDFS part (as for the Rust HDFS tests).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
import { startMiniDfs } from './minidfs.mjs';

const bin = process.env.IDBSYNC_BIN;
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const skip = !bin ? 'IDBSYNC_BIN is not set: the browser tests against `idbsync serve` are skipped'
  : !existsSync(executablePath) ? `no Chromium at ${executablePath} (set CHROMIUM): the browser tests are skipped` : false;
if (skip) console.log(skip);
const skipHdfs = skip || (process.env.IDBSYNC_SKIP_HDFS === '1' && process.env.CI !== 'true'
  ? 'IDBSYNC_SKIP_HDFS=1: the browser test over HDFS is skipped' : false);
if (process.env.IDBSYNC_SKIP_HDFS === '1' && process.env.CI === 'true') throw new Error('IDBSYNC_SKIP_HDFS=1 under CI=true: the HDFS tests cannot be skipped in CI');

const root = fileURLToPath(new URL('..', import.meta.url)); // clients/js
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript' };

/** Serves the page (/), the client (/src) and its dependencies (/node_modules) on 127.0.0.1. */
function serveStatic() {
  const server = createServer((req, res) => {
    const rel = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '');
    const file = join(root, rel.startsWith('src/') || rel.startsWith('node_modules/') ? rel : join('test/browser', rel || 'page.html'));
    if (!file.startsWith(root) || !existsSync(file) || statSync(file).isDirectory()) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

for (const onHdfs of [false, true]) describe(`in Chromium, against idbsync serve${onHdfs ? ' over HDFS (MiniDFSCluster)' : ''}`, () => {
  const skipped = onHdfs ? skipHdfs : skip;
  let web;
  let server;
  let browser;
  let options;
  let hdfs;
  before(async () => {
    if (skipped) return;
    web = await serveStatic();
    const origin = `http://127.0.0.1:${web.address().port}`;
    if (onHdfs) hdfs = await startMiniDfs();
    server = await startServer(bin, { args: ['--allow-origin', origin], root: hdfs ? `${hdfs.url}/idbsync` : undefined });
    options = { url: server.url, token: server.tokens.app, database: 'app' };
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await hdfs?.stop();
    web?.close();
  });

  /** A new device: a browser context of its own (its own IndexedDB) with the page open. */
  async function device() {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${web.address().port}/`);
    await page.waitForFunction(() => window.appReady === true, null, { timeout: 15_000 }).catch((e) => {
      throw new Error(`the page did not load: ${errors.join('; ') || e.message}`);
    });
    return {
      write: (step) => page.evaluate((s) => window.app.write(s), step),
      sync: async (extra = {}) => {
        const r = await page.evaluate((o) => window.app.sync(o), { ...options, ...extra });
        assert.ok(extra.token || r.summary, JSON.stringify(r.error));
        return r;
      },
      dump: () => page.evaluate(() => window.app.dump()),
      pending: () => page.evaluate(() => window.app.pending()),
    };
  }

  test('two devices (browser contexts) converge; typed values exact; CORS; gzip; auth errors', { skip: skipped }, async () => {
    const [a, b] = [await device(), await device()];
    await a.write('create');
    const first = (await a.sync({ gzip: true })).summary;
    assert.deepEqual([first.pushed.notes.upserted, first.pushed.files.upserted], [3, 2]);
    await a.write('edit');
    await a.sync();
    await b.sync();
    assert.equal(await b.dump(), await a.dump());
    await b.write('answer');
    await b.sync();
    await a.sync();
    const dump = await a.dump();
    assert.equal(dump, await b.dump());
    assert.deepEqual([await a.pending(), await b.pending()], [0, 0]);
    // What is compared: the records left, with their typed values.
    const rows = Object.fromEntries(JSON.parse(dump).data.data.map((d) => [d.tableName, d.rows]));
    assert.deepEqual(rows.notes.map((r) => r.id), ['n3', 'n4']);
    assert.deepEqual(rows.files.map((r) => r.$[0]), ['f2', 'f3']);
    assert.deepEqual(rows.notes[0].$types, { at: 'date', bytes: 'uint8array2', 'bytes.buffer': 'arraybuffer', big: 'bigint', picture: 'blob2' });

    await a.write('edit'); // changes again: waits, since the token is wrong
    const denied = await a.sync({ token: 'wrong' });
    assert.deepEqual([denied.error?.name, denied.error?.kind, denied.error?.status], ['SyncError', 'auth', 401]);
    assert.ok((await a.pending()) > 0);
  });

  test('idbsync query sees exactly the browser\'s records; a query --create result pulled back equals the SQL', { skip: onHdfs ? skipped : 'on HDFS only' }, async () => {
    const [a, b] = [await device(), await device()];
    await a.write('create');
    await a.write('edit');
    await a.sync();
    const db = `${server.root}/app`;
    const sql = async (q, ...more) => JSON.parse(await server.idbsync('query', db, q, '--format', 'json', ...more));
    // The browser's notes as the server holds them (the notes after 'edit': n1 changed, n2 deleted).
    const browserNotes = JSON.parse(await a.dump()).data.data.find((d) => d.tableName === 'notes').rows;
    const held = await sql('SELECT id, title, done FROM notes ORDER BY id');
    assert.deepEqual(held, browserNotes.map(({ id, title, done }) => ({ id, title, done })));
    // A processed result on the server, pulled into another device.
    const totals = 'SELECT done, count(*) AS n, min(title) AS first FROM notes GROUP BY done';
    await server.idbsync('query', db, totals, '--create', 'totals', '--key', 'done');
    const want = await sql(`${totals} ORDER BY done`);
    await b.sync();
    const got = JSON.parse(await b.dump()).data.data.find((d) => d.tableName === 'totals').rows;
    assert.deepEqual(got, want);
    // Re-run after a change: the device gets the new result.
    await a.write('answer');
    await a.sync();
    await server.idbsync('query', db, totals, '--create', 'totals', '--key', 'done');
    await b.sync();
    const again = JSON.parse(await b.dump()).data.data.find((d) => d.tableName === 'totals').rows;
    assert.deepEqual(again, await sql(`${totals} ORDER BY done`));
    assert.notDeepEqual(again, got);
  });
});
