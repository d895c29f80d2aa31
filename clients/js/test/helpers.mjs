// Shared by the tests: fresh tracked databases and their change entries.
// Import env.mjs before this module.

import Dexie from 'dexie';
import { idbsyncStores, track } from '../src/index.js';
import { CHANGES } from '../src/names.js';
import { keyId } from '../src/keys.js';

let fresh = 0;

/** A new tracked database (a name never used before in this process), opened. */
export async function openDb(stores, { trackOptions, name = `db${++fresh}` } = {}) {
  const db = new Dexie(name);
  db.version(1).stores({ ...stores, ...idbsyncStores() });
  track(db, trackOptions);
  await db.open();
  return db;
}

/** Opens a second Dexie instance on the same database (another tab, or a restart). */
export async function reopen(db, stores, trackOptions) {
  const again = new Dexie(db.name);
  again.version(1).stores({ ...stores, ...idbsyncStores() });
  track(again, trackOptions);
  await again.open();
  return again;
}

/** The recorded changes as sorted 'table keyId' strings. */
export async function changed(db) {
  return (await db.table(CHANGES).toArray()).map((e) => `${e.table} ${keyId(e.key)}`).sort();
}

/** [primary key, value] of every record of `table`, in key order. */
export async function entries(db, table) {
  const keys = await db.table(table).toCollection().primaryKeys();
  const values = await db.table(table).toArray();
  return keys.map((k, i) => [k, values[i]]);
}

/** `ids` ('table key' pairs given as [table, key]) as changed() writes them, sorted. */
export const ids = (...pairs) => pairs.map(([t, k]) => `${t} ${keyId(k)}`).sort();
