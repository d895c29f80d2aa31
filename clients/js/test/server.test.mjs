// sync() against a real `idbsync serve` (the binary at IDBSYNC_BIN), started by the test
// on 127.0.0.1 with a temporary root and tokens file. Without IDBSYNC_BIN these tests are
// skipped (and say so). Each test uses tables of its own in the server database 'app'.

import './env.mjs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isDeepStrictEqual, inspect } from 'node:util';
import Dexie from 'dexie';
import { SyncError, sync } from '../src/index.js';
import { changed, entries, openDb } from './helpers.mjs';
import { startServer } from './serve.mjs';

const bin = process.env.IDBSYNC_BIN;
const skip = bin ? false : 'IDBSYNC_BIN is not set: the tests against a real `idbsync serve` are skipped';
if (!bin) console.log(skip);

/** Fails with both sides shown unless every record of every table is deep-equal. */
async function assertSame(a, b, tables) {
  for (const t of tables) {
    const [ea, eb] = [await entries(a, t), await entries(b, t)];
    assert.ok(isDeepStrictEqual(ea, eb), `${t} differs:\n${inspect(ea, { depth: 6 })}\n${inspect(eb, { depth: 6 })}`);
  }
}

describe('against idbsync serve', () => {
  let server;
  let options;
  before(async () => {
    if (!bin) return;
    server = await startServer(bin);
    options = { url: server.url, token: server.tokens.app, database: 'app' };
  });
  after(async () => server?.stop());

  /**
   * The current records of table `t` on the server, read apart from the server and the
   * client: `idbsync pull <root>/app --table t --format ndjson` (plain JSON; by key).
   */
  async function held(t) {
    const out = await server.idbsync('pull', join(server.root, 'app'), '--table', t, '--format', 'ndjson', '--to', '-', '-q');
    const rows = out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => !('_checkpoint' in r));
    // A whole-table pull comes in file order: sorted here by the tables' keys (`id`,
    // `[a+b]`, `__key`), in IndexedDB's order.
    const key = (r) => ('id' in r ? r.id : '__key' in r ? r.__key : [r.a, r.b]);
    return rows.sort((x, y) => Dexie.cmp(key(x), key(y)));
  }

  /** POST /v1/app/query: the answer's status and JSON. */
  async function query(sql) {
    const res = await fetch(`${server.url}/v1/app/query`, {
      method: 'POST', headers: { authorization: `Bearer ${server.tokens.app}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql, limit: 1000 }),
    });
    return [res.status, await res.json()];
  }

  test('create, update, delete on one device: the server holds exactly that, a second device converges', { skip }, async () => {
    const stores = { notes: 'id, done', settings: '', pairs: '[a+b]' };
    const a = await openDb(stores);
    await a.notes.bulkAdd([
      { id: 'n1', title: 'one', at: new Date(Date.UTC(2024, 2, 1, 12)), done: 0, tags: ['x', 'y'], meta: { n: 1, f: 1.5 } },
      { id: 'n2', title: 'two', at: new Date(Date.UTC(2024, 2, 2)), done: 1, tags: [], meta: { n: 2, f: -0.25 } },
      { id: 'n3', title: 'three', at: new Date(0), done: 0, tags: ['z'], meta: { n: 3, f: 1e300 } },
    ]);
    await a.settings.bulkPut([{ theme: 'dark', since: new Date(5) }, { theme: 'light', since: new Date(6) }], ['ui', 'print']);
    await a.pairs.bulkAdd([{ a: 1, b: 'x', v: true }, { a: 2, b: 'y', v: false }]);
    const s1 = await sync(a, options);
    assert.equal(s1.batch, 1);
    assert.deepEqual(Object.values(s1.pushed).map((p) => [p.status, p.upserted]), [['committed', 3], ['committed', 2], ['committed', 2]]);

    await a.notes.update('n1', { title: 'ONE', done: 1 });
    await a.notes.delete('n2');
    await a.notes.add({ id: 'n4', title: 'four', at: new Date(Date.UTC(2025, 0, 1)), done: 0, tags: ['w'], meta: { n: 4, f: 0 } });
    await a.settings.delete('print');
    await a.pairs.delete([2, 'y']);
    const s2 = await sync(a, options);
    assert.deepEqual([s2.pushed.notes.upserted, s2.pushed.notes.deleted, s2.pushed.settings.deleted, s2.pushed.pairs.deleted], [2, 1, 1, 1]);
    assert.deepEqual(await changed(a), []);

    const rows = (await held('notes')).map(({ id, title, done }) => ({ id, title, done }));
    assert.deepEqual(rows, [{ id: 'n1', title: 'ONE', done: 1 }, { id: 'n3', title: 'three', done: 0 }, { id: 'n4', title: 'four', done: 0 }]);
    assert.deepEqual((await held('pairs')).map(({ a, b }) => [a, b]), [[1, 'x']]);
    assert.deepEqual(await held('settings'), [{ __key: 'ui', theme: 'dark', since: '1970-01-01T00:00:00.005Z' }]);

    const b = await openDb(stores);
    await sync(b, options);
    await assertSame(a, b, Object.keys(stores));

    // Incremental: changes after b's checkpoint, deletes included.
    await a.notes.put({ id: 'n3', title: 'three!', at: new Date(1), done: 1, tags: [], meta: { n: 3, f: 2 } });
    await a.notes.delete('n4');
    await a.pairs.put({ a: 3, b: 'z', v: true });
    await sync(a, options);
    const s3 = await sync(b, options);
    assert.deepEqual([s3.pulled.notes.upserted, s3.pulled.notes.deleted, s3.pulled.pairs.upserted], [1, 1, 1]);
    await assertSame(a, b, Object.keys(stores));
  });

  test('typed values (Dates, binary, Maps, Sets, Blobs, typed arrays, bigint, special numbers) come back exactly', { skip }, async () => {
    const stores = { things: 'id' };
    const a = await openDb(stores);
    await a.things.bulkAdd([
      { id: 1, when: new Date(Date.UTC(2020, 0, 1, 0, 0, 0, 123)), bytes: new Uint8Array([0, 1, 255]).buffer, n: 2 ** 53 - 1 },
      { id: 2, when: new Date(-1), bytes: new Uint8Array([7]).buffer, n: -5 },
      { id: 3, m: new Map([['a', 1], ['b', 2]]), s: new Set(['p', 'q']) },
      { id: 4, blob: new Blob(['hello'], { type: 'text/plain' }), u16: new Uint16Array([1, 65535]), f64: new Float64Array([0.5]) },
      { id: 5, big: 12345678901234567890n, inf: Infinity, nan: NaN, neg: -0 },
    ]);
    await sync(a, options);
    const b = await openDb(stores);
    await sync(b, options);
    const [ea, eb] = [await entries(a, 'things'), await entries(b, 'things')];
    for (let i = 0; i < ea.length; i++) {
      // Blobs compare by type and bytes.
      for (const e of [ea[i][1], eb[i]?.[1]]) if (e?.blob) e.blob = [e.blob.type, new Uint8Array(await e.blob.arrayBuffer())];
    }
    for (let i = 0; i < ea.length; i++) assert.ok(isDeepStrictEqual(ea[i], eb[i]), `record ${i}:\n${inspect(ea[i])}\n${inspect(eb[i])}`);
  });

  test('a push whose answer is lost (aborted after it was sent), retried: nothing twice, then the rest', { skip }, async () => {
    const stores = { orders: 'id' };
    const db = await openDb(stores);
    await db.orders.bulkAdd([{ id: 1, qty: 1 }, { id: 2, qty: 2 }]);
    const ac = new AbortController();
    // The answer's headers mean the server has committed: abort before the body is read.
    const losing = async (url, init) => {
      const res = await fetch(url, init);
      if (url.includes('/push')) ac.abort();
      return res;
    };
    await assert.rejects(sync(db, { ...options, signal: ac.signal, fetch: losing }), (e) => e instanceof SyncError && e.kind === 'aborted');
    assert.equal((await held('orders')).length, 2);
    const retry = await sync(db, options);
    assert.deepEqual(retry.batches.map(([, n]) => n), [1]);
    // The retried batch changed nothing: the server answers it with its first answer
    // again (`replayed`) or, once it no longer holds that, with status already_applied.
    const answer = retry.pushed.orders;
    assert.ok(answer.replayed || answer.status === 'already_applied', inspect(answer));
    await db.orders.put({ id: 3, qty: 3 });
    assert.equal((await sync(db, options)).batch, 2);
    assert.deepEqual((await held('orders')).map(({ id, qty }) => ({ id, qty })), [{ id: 1, qty: 1 }, { id: 2, qty: 2 }, { id: 3, qty: 3 }]);
    assert.deepEqual(await changed(db), []);
  });

  test('records the server rejects: SyncError "refused" with the key and the reason, the rest synced', { skip }, async () => {
    const db = await openDb({ typed: 'id' });
    await db.typed.add({ id: 1, n: 1 });
    await sync(db, options);
    // Text where the column holds integers is kept (the column becomes JSON text); a record
    // nested deeper than the 128 levels push reads a record's key from is refused.
    let deep = {};
    for (let i = 0; i < 200; i++) deep = { d: deep };
    await db.typed.bulkAdd([{ id: 2, n: deep }, { id: 3, n: 3 }, { id: 4, n: 'not a number' }]);
    const e = await sync(db, options).catch((x) => x);
    assert.ok(e instanceof SyncError && e.kind === 'refused', inspect(e));
    assert.deepEqual(e.rejects.map((r) => [r.table, r.key]), [['typed', 2]]);
    assert.match(e.message, /rejected 1 record\(s\), e\.g\. record 0 of 'typed': .+/);
    assert.deepEqual((await held('typed')).map((r) => [r.id, r.n]), [[1, 1], [3, 3], [4, 'not a number']]);
    assert.deepEqual(await changed(db), []);
  });

  test('auth errors are SyncError kind "auth" with the status and the server\'s message', { skip }, async () => {
    const db = await openDb({ secrets: 'id' });
    await db.secrets.add({ id: 1 });
    const wrong = await sync(db, { ...options, token: 'not-a-token' }).catch((e) => e);
    assert.ok(wrong instanceof SyncError && wrong.kind === 'auth' && wrong.status === 401, inspect(wrong));
    assert.ok(wrong.error && wrong.detail, 'the server says why');
    const other = await sync(db, { ...options, token: server.tokens.other }).catch((e) => e);
    assert.ok(other instanceof SyncError && other.kind === 'auth' && other.status === 403, inspect(other));
    const readOnly = await sync(db, { ...options, token: server.tokens.appRead }).catch((e) => e);
    assert.ok(readOnly instanceof SyncError && readOnly.kind === 'auth' && readOnly.status === 403, inspect(readOnly));
    assert.deepEqual(await changed(db), ['secrets n1'], 'the change waits for a sync that is allowed');
    await sync(db, options);
    assert.deepEqual(await changed(db), []);
  });

  test('a gzip-compressed push', { skip }, async () => {
    const db = await openDb({ zipped: 'id' });
    await db.zipped.bulkAdd(Array.from({ length: 50 }, (_, i) => ({ id: i, text: 'x'.repeat(100) })));
    const s = await sync(db, { ...options, gzip: true });
    assert.equal(s.pushed.zipped.upserted, 50);
  });

  test('changedSince: an updatedAt table syncs its records and its deletes', { skip }, async () => {
    const stores = { journal: 'id, updatedAt' };
    const trackOptions = { changedSince: { journal: 'updatedAt' } };
    const a = await openDb(stores, { trackOptions });
    await a.journal.bulkAdd([{ id: 'j1', updatedAt: new Date(1000), text: 'a' }, { id: 'j2', updatedAt: new Date(2000), text: 'b' }]);
    await sync(a, options);
    await a.journal.put({ id: 'j1', updatedAt: new Date(3000), text: 'a2' });
    await a.journal.delete('j2');
    const s = await sync(a, options);
    assert.deepEqual([s.pushed.journal.upserts, s.pushed.journal.deletes], [1, 1]);
    const b = await openDb(stores, { trackOptions });
    await sync(b, options);
    await assertSame(a, b, ['journal']);
  });

  test('a batch older than the last one applied: 409, SyncError "refused", and the next sync goes through', { skip }, async () => {
    const db = await openDb({ restored: 'id' });
    await db.restored.add({ id: 1 });
    const s1 = await sync(db, options);
    await db.restored.add({ id: 2 });
    await sync(db, options);
    // As if the database were restored from a copy taken after batch 1.
    await db.table('_idbsync_state').put({ name: 'client', id: s1.clientId, next: 1 });
    await db.restored.add({ id: 3 });
    const e = await sync(db, options).catch((x) => x);
    assert.ok(e instanceof SyncError && e.kind === 'refused' && e.status === 409, inspect(e));
    await sync(db, options);
    assert.deepEqual((await held('restored')).map((r) => r.id), [1, 2, 3]);
  });

  test('a table whose first push is only deletes (records made and deleted between syncs)', { skip }, async () => {
    const db = await openDb({ fleeting: 'id' });
    await db.fleeting.add({ id: 1, v: 'x' });
    await db.fleeting.delete(1);
    const s = await sync(db, options);
    assert.deepEqual([s.pushed.fleeting.deletes, s.pushed.fleeting.deleted], [1, 0]);
    await db.fleeting.add({ id: 2, v: 'y' });
    await sync(db, options);
    assert.deepEqual(await held('fleeting'), [{ id: 2, v: 'y' }]);
  });

  test('deletes of Date and binary keys reach a second device', { skip }, async () => {
    const stores = { moments: 'at', blobkeys: '' };
    const [a, b] = [await openDb(stores), await openDb(stores)];
    await a.moments.bulkAdd([{ at: new Date(1000), n: 1 }, { at: new Date(2000), n: 2 }]);
    await a.blobkeys.bulkPut(['x', 'y'], [new Uint8Array([1, 2]).buffer, new Date(5)]);
    await sync(a, options);
    await sync(b, options);
    await a.moments.delete(new Date(1000));
    await a.blobkeys.bulkDelete([new Uint8Array([1, 2]).buffer, new Date(5)]);
    await sync(a, options);
    await sync(b, options);
    await assertSame(a, b, Object.keys(stores));
  });

  test('POST /query reads the synced (Delta) tables', { skip }, async () => {
    const db = await openDb({ queried: 'id' });
    await db.queried.bulkAdd([{ id: 1, n: 10 }, { id: 2, n: 20 }]);
    await sync(db, options);
    const [status, body] = await query('SELECT sum(n) AS total FROM queried');
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.rows, [[30]]);
  });
});
