// The change tracker alone (no server): which keys each kind of write records, that the
// record commits or aborts with the write, and that marked (pulled) writes are not
// recorded. Ends with a seeded property test over random sequences of writes.

import './env.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Dexie from 'dexie';
import fc from 'fast-check';
import { idbsyncStores, markAllChanged, track } from '../src/index.js';
import { CHANGES, UNTRACKED } from '../src/names.js';
import { keyId } from '../src/keys.js';
import { changed, ids, openDb } from './helpers.mjs';

const stores = { auto: '++id, name', todos: 'id, done', kv: '', pairs: '[a+b], x', nested: 'k.id' };

test('every kind of write records the primary keys it changed', async () => {
  const db = await openDb(stores);
  await db.auto.bulkAdd([{ name: 'a' }, { name: 'b' }, { name: 'c' }]); // auto-incremented: 1, 2, 3
  await db.todos.put({ id: 't1', done: 0 });
  await db.todos.bulkPut([{ id: 't2', done: 1 }, { id: 't3', done: 1 }]);
  await db.kv.put('v', new Uint8Array([1, 2])); // a binary key is recorded by its bytes
  await db.kv.add('w', new Date(7));
  await db.pairs.add({ a: 1, b: 'x', x: 0 });
  await db.nested.add({ k: { id: 5 } });
  assert.deepEqual(await changed(db), ids(['auto', 1], ['auto', 2], ['auto', 3], ['todos', 't1'], ['todos', 't2'], ['todos', 't3'],
    ['kv', new Uint8Array([1, 2]).buffer], ['kv', new Date(7)], ['pairs', [1, 'x']], ['nested', 5]));
  assert.ok((await db.table(CHANGES).get(['kv', new Uint8Array([1, 2]).buffer])).key instanceof ArrayBuffer);
});

test('updates, modify, upsert, deletes, deleteRange and clear record their keys', async () => {
  const db = await openDb(stores);
  await db.transaction('rw', db.todos, db.kv, async () => {
    await db.todos.bulkAdd([1, 2, 3, 4, 5].map((i) => ({ id: i, done: i % 2 })));
    await db.kv.bulkAdd(['a', 'b', 'c'], ['k1', 'k2', 'k3']);
  });
  await db.table(CHANGES).clear();
  const after = async (fn, expected) => {
    await fn();
    assert.deepEqual(await changed(db), ids(...expected));
    await db.table(CHANGES).clear();
  };
  await after(() => db.todos.update(1, { title: 'x' }), [['todos', 1]]);
  await after(() => db.todos.where('done').equals(1).modify({ seen: true }), [['todos', 1], ['todos', 3], ['todos', 5]]);
  await after(() => db.todos.upsert(9, { done: 0 }), [['todos', 9]]);
  await after(() => db.todos.bulkUpdate([{ key: 2, changes: { done: 1 } }]), [['todos', 2]]);
  await after(() => db.todos.delete(4), [['todos', 4]]);
  await after(() => db.todos.where('id').between(2, 5).delete(), [['todos', 2], ['todos', 3]]); // deleteRange
  await after(() => db.kv.clear(), [['kv', 'k1'], ['kv', 'k2'], ['kv', 'k3']]);
  await after(() => db.todos.delete(404), [['todos', 404]]); // a delete of nothing still says "check this key"
});

test('a failed operation of a bulk write records nothing for it', async () => {
  const db = await openDb(stores);
  await db.todos.add({ id: 1 });
  await db.table(CHANGES).clear();
  await assert.rejects(db.todos.bulkAdd([{ id: 1 }, { id: 2 }]), /ConstraintError|BulkError/);
  assert.deepEqual(await changed(db), ids(['todos', 2]));
});

test('the record commits with the write: an aborted transaction records nothing', async () => {
  const db = await openDb(stores);
  await assert.rejects(db.transaction('rw', db.todos, async () => {
    await db.todos.put({ id: 'kept?' });
    throw new Error('the app gives up');
  }), /gives up/);
  assert.deepEqual(await changed(db), []);
  assert.equal(await db.todos.count(), 0);
});

test('writes in a transaction marked UNTRACKED (the pull) are not recorded', async () => {
  const db = await openDb(stores);
  await db.transaction('rw', db.todos, async (tx) => {
    tx.idbtrans[UNTRACKED] = true;
    await db.todos.bulkPut([{ id: 1 }, { id: 2 }]);
    await db.todos.delete(1);
  });
  assert.deepEqual(await changed(db), []);
  await db.todos.put({ id: 3 });
  assert.deepEqual(await changed(db), ids(['todos', 3]));
});

test('every write gets a new revision', async () => {
  const db = await openDb(stores);
  await db.todos.put({ id: 1 });
  const first = await db.table(CHANGES).get(['todos', 1]);
  await db.todos.put({ id: 1, v: 2 });
  assert.notEqual((await db.table(CHANGES).get(['todos', 1])).rev, first.rev);
});

test('changedSince tables record only deletes', async () => {
  const db = await openDb({ notes: 'id, updatedAt' }, { trackOptions: { changedSince: { notes: 'updatedAt' } } });
  await db.notes.bulkPut([{ id: 1, updatedAt: 1 }, { id: 2, updatedAt: 2 }]);
  assert.deepEqual(await changed(db), []);
  await db.notes.delete(2);
  assert.deepEqual(await changed(db), ids(['notes', 2]));
});

test('markAllChanged records every record already there', async () => {
  const db = new Dexie('before-tracking');
  db.version(1).stores({ todos: 'id' });
  await db.open();
  await db.todos.bulkAdd([{ id: 1 }, { id: 2 }]);
  db.close();
  const later = new Dexie('before-tracking');
  later.version(2).stores({ todos: 'id', ...idbsyncStores() });
  track(later);
  await later.open();
  assert.deepEqual(await changed(later), []);
  await markAllChanged(later);
  assert.deepEqual(await changed(later), ids(['todos', 1], ['todos', 2]));
});

test('clear errors for a schema without the client tables, a bad changedSince, a late track()', async () => {
  const db = new Dexie('no-client-tables');
  db.version(1).stores({ todos: 'id' });
  track(db);
  await assert.rejects(db.open(), /no table '_idbsync_changes'.*idbsyncStores\(\)/s);
  const db2 = new Dexie('bad-changed-since');
  db2.version(1).stores({ todos: 'id', ...idbsyncStores() });
  track(db2, { changedSince: { todos: 'updatedAt' } });
  await assert.rejects(db2.open(), /'todos.updatedAt' is not an index/);
  const db3 = await openDb(stores);
  assert.throws(() => track(db3), /already called/);
});

// ---------------------------------------------------------------------------------------
// Property: after any sequence of writes (some in transactions that abort), the recorded
// keys are exactly the keys that committed writes touched.
// ---------------------------------------------------------------------------------------

const key = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom('a', 'b', 'c'), fc.constantFrom(new Date(1), new Date(2)));
const op = fc.oneof(
  fc.record({ op: fc.constant('put'), table: fc.constantFrom('todos', 'kv'), keys: fc.array(key, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('delete'), table: fc.constantFrom('todos', 'kv'), keys: fc.array(key, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('range'), table: fc.constantFrom('todos', 'kv'), lo: fc.integer({ min: 0, max: 6 }), n: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant('clear'), table: fc.constantFrom('todos', 'kv') }),
);
// `cleared`: the change table is emptied first (as a push does), so that every step's
// own records are seen.
const step = fc.record({ ops: fc.array(op, { minLength: 1, maxLength: 4 }), abort: fc.boolean(), cleared: fc.boolean() });

test('property: the recorded keys are exactly the keys of committed writes', async () => {
  const seed = Number(process.env.IDBSYNC_JS_SEED ?? 18);
  await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 8 }), async (steps) => {
    const db = await openDb({ todos: 'id', kv: '' });
    const present = { todos: new Map(), kv: new Map() }; // the model: keyId → key
    const touched = new Set();
    try {
      for (const { ops, abort, cleared } of steps) {
        if (cleared) {
          await db.table(CHANGES).clear();
          touched.clear();
        }
        const model = { todos: new Map(present.todos), kv: new Map(present.kv) };
        const seen = new Set();
        const run = db.transaction('rw', db.todos, db.kv, async () => {
          for (const o of ops) {
            const t = db.table(o.table);
            const m = model[o.table];
            const hit = (k) => seen.add(`${o.table} ${keyId(k)}`);
            if (o.op === 'put') {
              if (o.table === 'kv') await t.bulkPut(o.keys.map((k) => ({ k })), o.keys);
              else await t.bulkPut(o.keys.map((k) => ({ id: k })));
              o.keys.forEach((k) => (m.set(keyId(k), k), hit(k)));
            } else if (o.op === 'delete') {
              await t.bulkDelete(o.keys);
              o.keys.forEach((k) => (m.delete(keyId(k)), hit(k)));
            } else {
              const inRange = o.op === 'clear' ? [...m.values()] : [...m.values()].filter((k) => typeof k === 'number' && k >= o.lo && k < o.lo + o.n);
              if (o.op === 'clear') await t.clear();
              else await t.where(':id').between(o.lo, o.lo + o.n).delete();
              inRange.forEach((k) => (m.delete(keyId(k)), hit(k)));
            }
          }
          if (abort) throw new Error('abort');
        });
        if (abort) await assert.rejects(run, /abort/);
        else {
          await run;
          Object.assign(present, model);
          seen.forEach((s) => touched.add(s));
        }
      }
      assert.deepEqual(await changed(db), [...touched].sort());
    } finally {
      await db.delete();
    }
  }), { seed, numRuns: Number(process.env.IDBSYNC_JS_RUNS ?? 100) });
});
