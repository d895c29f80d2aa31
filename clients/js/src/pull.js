// Pull: for each table, the changes committed on the server after the checkpoint this
// database has seen, applied in one Dexie transaction together with the new checkpoint.

import Dexie from 'dexie';
import { importInto } from 'dexie-export-import';
import { CHANGES, STATE, UNTRACKED } from './names.js';
import { keyId } from './keys.js';
import { SyncError, checkAborted, parseAnswer } from './http.js';

/** A primary key path as the server writes it: `id`, `[a+b]`, `a.b`; null out of line. */
const keyPathText = (kp) => (kp == null ? null : Array.isArray(kp) ? `[${kp.join('+')}]` : kp);

/**
 * `rows` (typeson-encoded, as in a Dexie export of `table`) revived by the stock
 * importInto: the same typeson and Blob handling as any import. importInto writes in
 * transactions of its own, so it is given a filter that keeps each revived row and lets
 * none through; this module then writes them in its own transaction. Every row is
 * declared inbound to it, so that it revives an out-of-line [key, value] row as one
 * value and hands it to the filter whole.
 */
async function revive(db, table, rows) {
  if (!rows.length) return [];
  const revived = [];
  const feed = {
    formatName: 'dexie',
    formatVersion: 1,
    data: {
      databaseName: db.name,
      databaseVersion: db.verno,
      tables: [{ name: table, schema: '', rowCount: rows.length }],
      data: [{ tableName: table, inbound: true, rows }],
    },
  };
  await importInto(db, new Blob([JSON.stringify(feed)]), {
    acceptNameDiff: true, acceptVersionDiff: true, acceptChangedPrimaryKey: true, noTransaction: true,
    filter: (_, row) => (revived.push(row), false),
  });
  return revived;
}

/**
 * Applies `rows` (revived) and `deleted` (keys) to `table` and stores `checkpoint`, in
 * one transaction that the change tracker does not record. A key with a local change not
 * pushed yet keeps its local record: the next push sends it (the later write wins).
 * `whole`: the rows are the whole server table (the first pull), so a local record that
 * is not among them was deleted on the server (or was never tracked: see
 * markAllChanged) and is deleted here too; otherwise a device that pushed before its
 * first pull would keep records that another device has deleted since.
 */
async function apply(db, table, rows, deleted, checkpoint, sinceField, whole) {
  const { keyPath } = db.table(table).schema.primKey;
  return db.transaction('rw', [table, CHANGES, STATE], async (tx) => {
    tx.idbtrans[UNTRACKED] = true;
    // [table] < [table, any key] < [table + '\0']: exactly this table's entries.
    const ids = await db.table(CHANGES).where(':id').between([table], [`${table}\u0000`]).primaryKeys();
    const local = new Set(ids.map(([, k]) => keyId(k)));
    if (sinceField) {
      const mark = (await db.table(STATE).get(`mark/${table}`))?.value;
      const coll = mark === undefined ? db.table(table).orderBy(sinceField) : db.table(table).where(sinceField).above(mark);
      for (const k of await coll.primaryKeys()) local.add(keyId(k));
    }
    const keyOf = keyPath == null ? (row) => row[0] : (row) => Dexie.getByKeyPath(row, keyPath);
    const puts = rows.filter((r) => !local.has(keyId(keyOf(r))));
    if (whole) {
      const there = new Set(rows.map((r) => keyId(keyOf(r))));
      deleted = (await db.table(table).toCollection().primaryKeys()).filter((k) => !there.has(keyId(k)));
    }
    const deletes = deleted.filter((k) => !local.has(keyId(k)));
    if (keyPath == null) await db.table(table).bulkPut(puts.map((r) => r[1]), puts.map((r) => r[0]));
    else await db.table(table).bulkPut(puts);
    await db.table(table).bulkDelete(deletes);
    await db.table(STATE).put({ name: `checkpoint/${table}`, value: checkpoint });
    return { upserted: puts.length, deleted: deletes.length, kept: rows.length + deleted.length - puts.length - deletes.length, checkpoint };
  });
}

/**
 * Pulls each of `tables` (a Set) that the server has: resolves to {table: {upserted,
 * deleted, kept, checkpoint}}. A table whose server checkpoint is the one stored is not
 * fetched.
 */
export async function pull(db, { request, tables, changedSince, signal, progress }) {
  const [, list] = await request('GET', 'tables', { what: 'list of tables' });
  const remote = new Map(parseAnswer(list, 'list of tables').tables.filter((t) => t.kind === 'delta').map((t) => [t.name, t]));
  const result = {};
  for (const table of [...tables].filter((t) => remote.has(t))) {
    const since = (await db.table(STATE).get(`checkpoint/${table}`))?.value;
    if (since !== undefined && remote.get(table).checkpoint === since) {
      result[table] = { upserted: 0, deleted: 0, kept: 0, checkpoint: since };
      continue;
    }
    progress({ phase: 'pull', stage: 'fetch', table, since });
    const what = `pull of '${table}'`;
    const [, text] = await request('GET', 'pull', { query: { table, since, format: 'dexie' }, what });
    const doc = parseAnswer(text, what);
    const meta = doc.idbsync;
    if (!meta || !Number.isInteger(meta.checkpoint) || !Array.isArray(meta.deleted)) {
      throw new SyncError('server', `idbsync: ${what}: the answer has no "idbsync" member with checkpoint and deleted keys`);
    }
    const local = keyPathText(db.table(table).schema.primKey.keyPath);
    if ((meta.key_path ?? null) !== local && !(local === null && meta.key_path === '__key')) {
      throw new SyncError('refused', `idbsync: ${what}: the server's table has primary key '${meta.key_path}', this database '${local ?? '(out of line)'}'`);
    }
    const rows = await revive(db, table, doc.data.data.find((d) => d.tableName === table)?.rows ?? []);
    // Deleted keys as plain JSON; typed keys (Dates, binary) only if the member carries
    // their typeson tags (`$types`, paths `deleted.<i>…`), revived like a row.
    const deleted = meta.$types ? (await revive(db, table, [meta]))[0].deleted : meta.deleted;
    checkAborted(signal);
    result[table] = await apply(db, table, rows, deleted, meta.checkpoint, changedSince[table], since === undefined);
    progress({ phase: 'pull', stage: 'done', table, ...result[table] });
  }
  return result;
}
