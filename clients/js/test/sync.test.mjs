// sync() against the in-memory model of the server (fake-server.mjs): batches and their
// numbers, retries after a lost answer, what is cleared, pull application, errors, and
// a seeded property test of two devices converging. Runs without the idbsync binary.

import './env.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { SyncError, sync } from '../src/index.js';
import { CHANGES, STATE } from '../src/names.js';
import { fakeServer } from './fake-server.mjs';
import { changed, entries, ids, openDb, reopen } from './helpers.mjs';

const stores = { todos: 'id, done', kv: '', pairs: '[a+b]' };
const setup = async (trackOptions) => {
  const server = fakeServer();
  const options = { url: 'http://fake', token: 'secret', database: 'app', fetch: server.fetch };
  return { server, options, db: await openDb(stores, { trackOptions }) };
};
const pushes = (server) => server.requests.filter((r) => r.path.endsWith('/push'));

test('a sync pushes the changes as one numbered batch, then pulls; a second device converges exactly', async () => {
  const { server, options, db } = await setup();
  await db.todos.bulkAdd([{ id: 1, title: 'a', at: new Date(5), tags: new Set(['x']), done: 0 }, { id: 2, blob: new Blob(['hi'], { type: 'text/plain' }) }]);
  await db.kv.put({ m: new Map([[1, new Uint8Array([7])]]) }, new Date(9));
  await db.pairs.add({ a: 1, b: 'x', n: -0 });
  const s1 = await sync(db, options);
  assert.equal(s1.batch, 1);
  assert.deepEqual(s1.pushed.todos, { upserts: 2, deletes: 0, status: 'committed', upserted: 2, deleted: 0, unchanged: 0, rejected: 0, checkpoint: 1, replayed: false });
  assert.deepEqual(await changed(db), []);
  assert.equal(pushes(server)[0].headers['idempotency-key'], `${s1.clientId}/1`);

  await db.todos.update(1, { title: 'b' });
  await db.todos.delete(2);
  await db.pairs.delete([1, 'x']);
  const s2 = await sync(db, options);
  assert.equal(s2.batch, 2);
  assert.deepEqual([s2.pushed.todos.upserts, s2.pushed.todos.deletes, s2.pushed.pairs.deletes], [1, 1, 1]);
  const s3 = await sync(db, options);
  assert.equal(s3.batch, null, 'nothing changed: no push');

  const other = await openDb(stores);
  const s4 = await sync(other, options);
  assert.notEqual(s4.clientId, s1.clientId);
  for (const t of Object.keys(stores)) assert.ok(isDeepStrictEqual(await entries(other, t), await entries(db, t)), t);
  assert.deepEqual(await changed(other), [], 'pulled records are not recorded as local changes');
  assert.equal(await (await other.todos.get(1)).at.getTime(), 5);
});

test('a lost answer: the next sync sends the same batch number, nothing is applied twice, then the rest', async () => {
  const { server, options, db } = await setup();
  await db.todos.bulkAdd([{ id: 1 }, { id: 2 }]);
  server.loseNextAnswer = true;
  await assert.rejects(sync(db, options), (e) => e instanceof SyncError && e.kind === 'network' && /socket hang up/.test(e.message));
  assert.equal(server.tables.get('todos').version, 1, 'the server applied it');
  await db.todos.put({ id: 3 }); // recorded after the batch was taken: the next batch
  const s = await sync(db, options);
  const keys = pushes(server).map((r) => r.headers['idempotency-key']);
  assert.deepEqual(keys, [`${s.clientId}/1`, `${s.clientId}/1`, `${s.clientId}/2`]);
  assert.deepEqual(s.batches, [[s.clientId, 1], [s.clientId, 2]]);
  assert.deepEqual(server.tables.get('todos').log.map((e) => e.key), [1, 2, 3]);
  assert.deepEqual(await changed(db), []);
});

test('a record changed while its batch is on the way keeps its change for the next batch', async () => {
  const { server, options, db } = await setup();
  await db.todos.bulkAdd([{ id: 1, v: 1 }, { id: 2, v: 1 }]);
  server.beforeAnswer = async (what) => {
    if (what !== 'push') return;
    server.beforeAnswer = null;
    await db.todos.put({ id: 1, v: 2 });
    await db.todos.put({ id: 7, v: 1 });
  };
  await sync(db, options);
  assert.deepEqual(await changed(db), ids(['todos', 1], ['todos', 7]));
  await sync(db, options);
  assert.deepEqual(await changed(db), []);
  const rows = [...server.tables.get('todos').rows.values()].sort((a, b) => a.id - b.id);
  assert.deepEqual(rows, [{ id: 1, v: 2 }, { id: 2, v: 1 }, { id: 7, v: 1 }]);
});

test('the batch number survives a restart: a new Dexie instance retries the pending batch', async () => {
  const { server, options, db } = await setup();
  await db.todos.add({ id: 1 });
  server.failNext = { status: 503, error: 'stopping', detail: 'the server is stopping' };
  await assert.rejects(sync(db, options), (e) => e.kind === 'server' && e.status === 503 && e.error === 'stopping');
  db.close();
  const again = await reopen(db, stores);
  await sync(again, options);
  const keys = pushes(server).map((r) => r.headers['idempotency-key']);
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1]);
  assert.equal(await again.table(STATE).get('pending'), undefined);
});

test('a pull leaves alone the keys changed locally and not pushed yet, and stores the checkpoint', async () => {
  const { server, options, db } = await setup();
  const other = await openDb(stores);
  await db.todos.bulkAdd([{ id: 1, v: 'a' }, { id: 2, v: 'a' }]);
  await sync(db, options);
  await sync(other, options);
  await db.todos.bulkPut([{ id: 1, v: 'b' }, { id: 2, v: 'b' }]);
  await sync(db, options);
  // `other` writes key 1 while its pull is on the way: the pull must not overwrite it.
  server.beforeAnswer = async (what) => {
    if (what === 'pull') await other.todos.put({ id: 1, v: 'mine' });
  };
  const s = await sync(other, options);
  server.beforeAnswer = null;
  assert.deepEqual(s.pulled.todos, { upserted: 1, deleted: 0, kept: 1, checkpoint: 2 });
  assert.deepEqual(await other.todos.toArray(), [{ id: 1, v: 'mine' }, { id: 2, v: 'b' }]);
  assert.equal((await other.table(STATE).get('checkpoint/todos')).value, 2);
  await sync(other, options); // the local write is pushed: the later write wins everywhere
  await sync(db, options);
  assert.deepEqual(await db.todos.toArray(), [{ id: 1, v: 'mine' }, { id: 2, v: 'b' }]);
});

test('errors say what failed: auth, refused, server, network, aborted', async () => {
  const { server, options, db } = await setup();
  await db.todos.add({ id: 1 });
  const kind = (k, status, re) => (e) => e instanceof SyncError && e.kind === k && e.status === status && re.test(e.message);
  await assert.rejects(sync(db, { ...options, token: 'wrong' }), kind('auth', 401, /HTTP 401 unauthorized: the token is not valid/));
  server.failNext = { status: 403, error: 'forbidden', detail: "this token may not write database 'app'" };
  await assert.rejects(sync(db, options), kind('auth', 403, /may not write/));
  server.failNext = { status: 413, error: 'too_large', detail: 'the body is over 1 GiB' };
  await assert.rejects(sync(db, options), kind('refused', 413, /too_large/));
  server.failNext = { status: 429, error: 'too_many_pushes', detail: 'retry' };
  await assert.rejects(sync(db, options), kind('server', 429, /too_many_pushes/));
  server.failNext = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
  await assert.rejects(sync(db, options), kind('network', undefined, /no answer from http:\/\/fake\/v1\/app: connect ECONNREFUSED/));
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(sync(db, { ...options, signal: ac.signal }), kind('aborted', undefined, /aborted/));
  // None of these sent the batch (or it was not applied): the same number goes out now.
  const s = await sync(db, options);
  assert.equal(s.batch, 1);
  assert.deepEqual(await changed(db), []);
});

test('aborting while the answer is on its way keeps the batch for the next sync', async () => {
  const { server, options, db } = await setup();
  await db.todos.add({ id: 1 });
  const ac = new AbortController();
  server.beforeAnswer = async () => ac.abort();
  const fetchAborting = async (url, init) => {
    const res = await server.fetch(url, init);
    if (init.signal?.aborted) throw new DOMException('This operation was aborted', 'AbortError');
    return res;
  };
  await assert.rejects(sync(db, { ...options, fetch: fetchAborting, signal: ac.signal }), (e) => e.kind === 'aborted');
  server.beforeAnswer = null;
  const s = await sync(db, options);
  assert.equal(s.batch, 1);
  assert.equal(s.pushed.todos.status, 'already_applied');
  assert.equal(server.tables.get('todos').rows.size, 1);
});

test('409 (a later batch of this client id is on the server): the client id is renewed and the changes kept', async () => {
  const { server, options, db } = await setup();
  await db.todos.add({ id: 1 });
  const s1 = await sync(db, options);
  // A copy of the database from before batch 1 (restored from a backup, say).
  await db.table(STATE).put({ name: 'client', id: s1.clientId, next: 1 });
  await db.todos.add({ id: 2 });
  server.tables.get('todos').batches.set(s1.clientId, 5);
  await assert.rejects(sync(db, options), (e) => e.kind === 'refused' && e.status === 409 && /new client id/.test(e.message));
  assert.deepEqual(await changed(db), ids(['todos', 2]));
  const s2 = await sync(db, options);
  assert.notEqual(s2.clientId, s1.clientId);
  assert.equal(s2.pushed.todos.upserted, 1);
});

test('records the server rejects: a SyncError "refused" naming them, after the rest of the sync', async () => {
  const { server, options, db } = await setup();
  server.reject = (table, row) => (row.bad ? 'text in an integer column' : null);
  await db.todos.bulkAdd([{ id: 1 }, { id: 2, bad: true }]);
  const e = await sync(db, options).catch((x) => x);
  assert.ok(e instanceof SyncError && e.kind === 'refused', e);
  assert.match(e.message, /rejected 1 record\(s\), e\.g\. record 1 of 'todos': text in an integer column/);
  assert.deepEqual(e.rejects.map((r) => [r.table, r.key, r.reason]), [['todos', 2, 'text in an integer column']]);
  assert.equal(e.summary.pulled.todos.checkpoint, 1, 'the pull was done');
  assert.deepEqual(await changed(db), []);
});

test('changedSince: records above the last time pushed go out, deletes as tombstones', async () => {
  const trackOptions = { changedSince: { notes: 'updatedAt' } };
  const server = fakeServer();
  const options = { url: 'http://fake', token: 'secret', database: 'app', fetch: server.fetch };
  const db = await openDb({ notes: 'id, updatedAt' }, { trackOptions });
  await db.notes.bulkAdd([{ id: 1, updatedAt: 10 }, { id: 2, updatedAt: 20 }, { id: 3, text: 'no time: never pushed' }]);
  const s1 = await sync(db, options);
  assert.deepEqual([s1.pushed.notes.upserts, s1.pushed.notes.deletes], [2, 0]);
  assert.equal((await db.table(STATE).get('mark/notes')).value, 20);
  await db.notes.put({ id: 1, updatedAt: 30, text: 'edited' });
  await db.notes.delete(2);
  const s2 = await sync(db, options);
  assert.deepEqual([s2.pushed.notes.upserts, s2.pushed.notes.deletes], [1, 1]);
  assert.equal(await sync(db, options).then((s) => s.batch), null);
  const other = await openDb({ notes: 'id, updatedAt' }, { trackOptions });
  await sync(other, options);
  assert.deepEqual(await other.notes.toArray(), [{ id: 1, updatedAt: 30, text: 'edited' }]);
});

test('progress events, and `tables` limits the sync', async () => {
  const { options, db } = await setup();
  await db.todos.add({ id: 1 });
  await db.kv.put(1, 'k');
  const events = [];
  const s = await sync(db, { ...options, tables: ['todos'], onProgress: (e) => events.push(`${e.phase} ${e.stage} ${e.table ?? ''}`.trim()) });
  assert.deepEqual(Object.keys(s.pushed), ['todos']);
  assert.deepEqual(events, ['push send', 'push done', 'pull fetch todos', 'pull done todos']);
  assert.deepEqual(await changed(db), ids(['kv', 'k']));
  await assert.rejects(sync(db, { ...options, tables: ['nope'] }), /'nope' is not a table/);
});

// ---------------------------------------------------------------------------------------
// Property: two devices write at random (puts, updates, deletes, clears) and sync at
// random, some answers lost; after A, B, A sync once more, both hold exactly what the
// server holds, and nothing is left to push.
// ---------------------------------------------------------------------------------------

const action = fc.oneof(
  fc.record({ device: fc.constantFrom(0, 1), op: fc.constant('put'), id: fc.integer({ min: 1, max: 6 }), v: fc.oneof(fc.integer(), fc.date({ noInvalidDate: true }), fc.string()) }),
  fc.record({ device: fc.constantFrom(0, 1), op: fc.constant('delete'), id: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ device: fc.constantFrom(0, 1), op: fc.constant('clear') }),
  fc.record({ device: fc.constantFrom(0, 1), op: fc.constant('sync'), lose: fc.boolean() }),
);

test('property: two devices converge to the server state', async () => {
  const seed = Number(process.env.IDBSYNC_JS_SEED ?? 18);
  await fc.assert(fc.asyncProperty(fc.array(action, { maxLength: 25 }), async (actions) => {
    const server = fakeServer();
    const options = { url: 'http://fake', token: 'secret', database: 'app', fetch: server.fetch };
    const devices = [await openDb({ todos: 'id' }), await openDb({ todos: 'id' })];
    try {
      for (const a of actions) {
        const db = devices[a.device];
        if (a.op === 'put') await db.todos.put({ id: a.id, v: a.v });
        else if (a.op === 'delete') await db.todos.delete(a.id);
        else if (a.op === 'clear') await db.todos.clear();
        else {
          server.loseNextAnswer = a.lose;
          await sync(db, options).catch((e) => assert.equal(e.kind, 'network'));
          server.loseNextAnswer = false;
        }
      }
      for (const i of [0, 1, 0]) await sync(devices[i], options);
      const held = [...(server.tables.get('todos')?.rows.values() ?? [])].map((r) => r.id).sort();
      for (const db of devices) {
        assert.deepEqual((await db.todos.toCollection().primaryKeys()), held);
        assert.deepEqual(await changed(db), []);
      }
      assert.ok(isDeepStrictEqual(await entries(devices[0], 'todos'), await entries(devices[1], 'todos')));
    } finally {
      await Promise.all(devices.map((d) => d.delete()));
    }
  }), { seed, numRuns: Number(process.env.IDBSYNC_JS_RUNS ?? 100) });
});

test('deleted keys carried with typeson tags (Dates, binary, compound) are revived for bulkDelete', async () => {
  const server = fakeServer({ typedDeletes: true });
  const options = { url: 'http://fake', token: 'secret', database: 'app', fetch: server.fetch };
  const s = { events: 'at', blobs: '', pairs: '[a+b]' };
  const [a, b] = [await openDb(s), await openDb(s)];
  await a.events.bulkAdd([{ at: new Date(1), n: 1 }, { at: new Date(2), n: 2 }]);
  await a.blobs.bulkPut(['x', 'y'], [new Uint8Array([1]).buffer, [new Date(3), 'k']]);
  await a.pairs.bulkAdd([{ a: new Date(4), b: 1 }, { a: new Date(5), b: 1 }]);
  await sync(a, options);
  await sync(b, options);
  await a.events.delete(new Date(1));
  await a.blobs.bulkDelete([new Uint8Array([1]).buffer, [new Date(3), 'k']]);
  await a.pairs.delete([new Date(4), 1]);
  await sync(a, options);
  const pulled = (await sync(b, options)).pulled;
  assert.deepEqual([pulled.events.deleted, pulled.blobs.deleted, pulled.pairs.deleted], [1, 2, 1]);
  for (const t of Object.keys(s)) assert.ok(isDeepStrictEqual(await entries(b, t), await entries(a, t)), t);
});
