// Keys: keyId is equal exactly when IndexedDB finds two keys equal, and a tombstone row
// is what the stock exportDB writes for a record holding the same key (seeded property
// tests over every kind of IndexedDB key).

import './env.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Dexie from 'dexie';
import { exportDB } from 'dexie-export-import';
import fc from 'fast-check';
import { keyId, normalizeKey, tombstoneRow } from '../src/keys.js';

const seed = Number(process.env.IDBSYNC_JS_SEED ?? 18);
const numRuns = Number(process.env.IDBSYNC_JS_RUNS ?? 100);

/** Any valid IndexedDB key as IndexedDB gives it back (binary as ArrayBuffer; not empty:
 * fake-indexeddb takes an empty buffer for a detached one, which is no key). */
const { key } = fc.letrec((tie) => ({
  key: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.double({ noNaN: true }),
    fc.constantFrom(0, -0, 1, Infinity, -Infinity),
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.integer({ min: -8.64e15, max: 8.64e15 }).map((t) => new Date(t)),
    fc.uint8Array({ minLength: 1, maxLength: 5 }).map((a) => a.buffer),
    fc.array(tie('key'), { maxLength: 3 })),
}));

test('property: keyId(a) === keyId(b) exactly when indexedDB.cmp(a, b) === 0', () => {
  fc.assert(fc.property(key, key, (a, b) => {
    assert.equal(keyId(a) === keyId(b), indexedDB.cmp(a, b) === 0);
    assert.equal(keyId(a), keyId(structuredClone(a)));
  }), { seed, numRuns: numRuns * 10 });
});

test('normalizeKey: typed arrays and DataViews as the ArrayBuffer of their bytes', () => {
  const bytes = new Uint8Array([9, 1, 2, 3, 9]);
  const view = new Uint8Array(bytes.buffer, 1, 3);
  assert.deepEqual(normalizeKey([view, new DataView(bytes.buffer, 1, 3), 5]), [new Uint8Array([1, 2, 3]).buffer, new Uint8Array([1, 2, 3]).buffer, 5]);
  assert.equal(keyId(view), keyId(new Uint8Array([1, 2, 3]).buffer));
});

let fresh = 0;

test('property: tombstone rows are typeson-encoded as the stock exportDB encodes the same key', async () => {
  await fc.assert(fc.asyncProperty(key, key, key, async (k, k1, k2) => {
    const db = new Dexie(`keys${++fresh}`);
    db.version(1).stores({ inline: 'id', nested: 'a.b', compound: '[p+q]', outbound: '' });
    await db.open();
    try {
      await db.inline.add({ id: k, _deleted: true });
      await db.nested.add({ a: { b: k }, _deleted: true });
      await db.compound.add({ p: k1, q: k2, _deleted: true });
      await db.outbound.add({ _deleted: true }, k);
      const doc = JSON.parse(await (await exportDB(db)).text());
      const rowOf = (t) => doc.data.data.find((d) => d.tableName === t).rows[0];
      const json = (v) => JSON.parse(JSON.stringify(v));
      assert.deepEqual(json(tombstoneRow('id', k)), rowOf('inline'));
      assert.deepEqual(json(tombstoneRow('a.b', k)), rowOf('nested'));
      assert.deepEqual(json(tombstoneRow(['p', 'q'], [k1, k2])), rowOf('compound'));
      assert.deepEqual(json(tombstoneRow(null, k)), rowOf('outbound'));
    } finally {
      await db.delete();
    }
  }), { seed, numRuns });
});
