// Push: the recorded changes as one numbered batch, a Dexie export with tombstones.
//
// The batch is fixed before it is sent: `pending` in _idbsync_state holds its number and
// the change entries (with their revisions) it covers, written in the same transaction
// that takes the number. A sync that finds a pending batch (the answer to it was lost)
// sends it again under the same number, with the current state of the same keys; the
// server applies a batch once. When the server has answered, an entry is cleared only if
// its revision is still the one the batch took: a record changed while the batch was on
// its way keeps its entry and goes in the next batch, whichever attempt the server kept.

import Dexie from 'dexie';
import { exportDB } from 'dexie-export-import';
import { CHANGES, STATE } from './names.js';
import { keyId, normalizeKey, tombstoneRow } from './keys.js';
import { checkAborted, parseAnswer } from './http.js';

/**
 * The pending batch, or a new one of the changes recorded in `tables` (a Set), or null
 * when there is nothing to push. `changedSince` as given to track(). A pending batch
 * comes back with `resumed: true`.
 */
export async function takeBatch(db, tables, changedSince) {
  const since = Object.entries(changedSince).filter(([t]) => tables.has(t));
  return db.transaction('rw', [CHANGES, STATE, ...since.map(([t]) => t)], async () => {
    const state = db.table(STATE);
    const pending = await state.get('pending');
    if (pending) return { ...pending, resumed: true };
    const entries = (await db.table(CHANGES).toArray()).filter((e) => tables.has(e.table));
    const marks = {};
    for (const [t, field] of since) {
      const mark = (await state.get(`mark/${t}`))?.value;
      const coll = () => (mark === undefined ? db.table(t).orderBy(field) : db.table(t).where(field).above(mark));
      const keys = await coll().primaryKeys();
      // The index keys come in order: the last is the newest time this batch covers.
      if (keys.length) marks[t] = { keys, mark: (await coll().keys()).at(-1) };
    }
    if (!entries.length && !Object.keys(marks).length) return null;
    const client = await state.get('client');
    const batch = { name: 'pending', client: client.id, n: client.next, entries, since: marks };
    await state.bulkPut([{ ...client, next: client.next + 1 }, batch]);
    return batch;
  });
}

/** The keys of `batch` per table: Map(table → Map(keyId → key)). */
function batchKeys(batch) {
  const byTable = new Map();
  const add = (t, k) => {
    if (!byTable.has(t)) byTable.set(t, new Map());
    byTable.get(t).set(keyId(k), k);
  };
  for (const e of batch.entries) add(e.table, e.key);
  for (const [t, { keys }] of Object.entries(batch.since)) for (const k of keys) add(t, normalizeKey(k));
  return byTable;
}

/**
 * The request body of `batch`: the stock exportDB of the batch's tables, filtered to its
 * keys (so every value is typeson-encoded exactly as a Dexie export), plus a tombstone
 * for each key no longer there. Resolves to {body, sent: {table: {upserts, deletes}},
 * order: Map(table → the key of each row)}, body null when none of the batch's tables
 * exists any more.
 */
export async function batchBody(db, batch) {
  const byTable = batchKeys(batch);
  const present = new Set(db.tables.map((t) => t.name));
  const names = [...byTable.keys()].filter((t) => present.has(t));
  if (!names.length) return { body: null, sent: {}, order: new Map() };
  const found = new Map(names.map((t) => [t, new Set()]));
  const keyPaths = new Map(names.map((t) => [t, db.table(t).schema.primKey.keyPath]));
  // The key of each row sent, in order: a reject names its record by position.
  const order = new Map(names.map((t) => [t, []]));
  const keep = (t, id) => byTable.get(t).has(id) && (found.get(t).add(id), order.get(t).push(byTable.get(t).get(id)), true);
  const blob = await exportDB(db, {
    skipTables: [...present].filter((t) => !byTable.has(t)),
    // exportDB gives out-of-line keys; an inbound key is read from the value. (It reads
    // each table of the batch whole: it has no way to read only some keys.)
    filter: (t, value, key) => keep(t, keyId(normalizeKey(keyPaths.get(t) == null ? key : Dexie.getByKeyPath(value, keyPaths.get(t))))),
  });
  const doc = JSON.parse(await blob.text());
  const sent = {};
  for (const part of doc.data.data) {
    const t = part.tableName;
    const keyPath = keyPaths.get(t);
    const upserts = part.rows.length;
    for (const [id, key] of byTable.get(t)) {
      if (!found.get(t).has(id)) {
        part.rows.push(tombstoneRow(keyPath, key));
        order.get(t).push(key);
      }
    }
    // exportDB counts the whole table; the server reads the rows that are there.
    doc.data.tables.find((x) => x.name === t).rowCount = part.rows.length;
    sent[t] = { upserts, deletes: part.rows.length - upserts };
  }
  return { body: JSON.stringify(doc), sent, order };
}

/** `text` gzip-compressed (CompressionStream: browsers, Node ≥ 18). */
async function gzip(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Clears what `batch` covered (see the top of this file), stores the changedSince marks
 * it reached and drops the pending batch, in one transaction. Does nothing if another
 * sync (another tab) settled it first.
 */
export async function settle(db, batch) {
  const marks = Object.entries(batch.since);
  await db.transaction('rw', [CHANGES, STATE], async () => {
    const state = db.table(STATE);
    const now = await state.get('pending');
    if (!now || now.client !== batch.client || now.n !== batch.n) return;
    const ids = batch.entries.map((e) => [e.table, e.key]);
    const current = await db.table(CHANGES).bulkGet(ids);
    await db.table(CHANGES).bulkDelete(ids.filter((_, i) => current[i]?.rev === batch.entries[i].rev));
    await state.bulkPut(marks.map(([t, { mark }]) => ({ name: `mark/${t}`, value: mark })));
    await state.delete('pending');
  });
}

/**
 * Pushes the changes of `tables` (a Set): resolves to null when there was nothing to
 * push, else {batch: [client, n], sent, answer, resumed} (answer: the server's JSON;
 * resumed: it was the pending batch of an earlier sync, so changes recorded since may
 * be left).
 */
export async function pushBatch(db, { request, tables, changedSince, gzip: compress, signal, progress }) {
  const batch = await takeBatch(db, tables, changedSince);
  if (!batch) return null;
  const { body, sent, order } = await batchBody(db, batch);
  let answer = { batch: [batch.client, batch.n], tables: [] };
  if (body !== null) {
    checkAborted(signal);
    progress({ phase: 'push', stage: 'send', batch: batch.n, sent });
    const headers = { 'content-type': 'application/json', 'idempotency-key': `${batch.client}/${batch.n}` };
    if (compress) headers['content-encoding'] = 'gzip';
    const what = `push of batch ${batch.client}/${batch.n}`;
    const [, text] = await request('POST', 'push', { headers, body: compress ? await gzip(body) : body, what });
    answer = parseAnswer(text, what);
    for (const t of answer.tables ?? []) for (const r of t.rejects ?? []) r.key = order.get(t.table)?.[r.record];
  }
  await settle(db, batch);
  progress({ phase: 'push', stage: 'done', batch: batch.n, sent });
  return { batch: [batch.client, batch.n], sent, answer, resumed: batch.resumed === true };
}

/**
 * Pushes everything recorded before it started: the pending batch of an earlier sync
 * first, if there is one, then a batch of the rest. Resolves to the batches pushed.
 */
export async function push(db, ctx) {
  const done = [];
  for (;;) {
    const b = await pushBatch(db, ctx);
    if (b) done.push(b);
    if (!b?.resumed) return done;
  }
}
