// Change tracking: a DBCore middleware that records, in the same IndexedDB transaction
// as the app's own write, the primary key of every record the app adds, puts or deletes.
// So a change is recorded exactly when it commits: an aborted transaction records
// nothing, and no crash between the write and the record can lose a change.

import { CHANGES, STATE, UNTRACKED, isInternal } from './names.js';
import { normalizeKey } from './keys.js';

/** The options each tracked database was given (sync reads them). */
const tracked = new WeakMap();

/**
 * The client's tables, for the app's schema:
 * `db.version(n).stores({...appStores, ...idbsyncStores()})`.
 */
export function idbsyncStores() {
  return { [CHANGES]: '[table+key]', [STATE]: 'name' };
}

/** The options `track(db, …)` was called with, or undefined. */
export const trackOptions = (db) => tracked.get(db);

// Every recorded change gets a new revision, unique across tabs and page loads: a push
// clears an entry only if its revision is still the one it sent (see push.js).
const session = Math.random().toString(36).slice(2, 10);
let counter = 0;
const newRev = () => `${session}.${(++counter).toString(36)}`;

/**
 * Starts tracking the changes of `db` (before `db.open()`, before any write).
 * `changedSince: {table: 'updatedAt'}` names tables whose records carry an indexed
 * modification time: only their deletes are recorded, and a push sends the records
 * whose field is above the last one pushed.
 */
export function track(db, { changedSince = {} } = {}) {
  if (tracked.has(db)) throw new Error('idbsync: track() was already called for this database');
  if (db.isOpen()) throw new Error('idbsync: call track(db) before db.open(): writes made before it are not recorded');
  tracked.set(db, { changedSince: { ...changedSince } });
  db.use({ stack: 'dbcore', name: 'idbsync', create: (down) => tracker(down, changedSince) });
  // Checked once open, not in create(): Dexie also builds the stack over the older
  // schemas it passes through while upgrading, which may lack the client's tables.
  db.on('ready', () => checkSchema(db.core.schema, changedSince));
  return db;
}

const hasTable = (schema, name) => schema.tables.some((t) => t.name === name);

function checkSchema(schema, changedSince) {
  for (const name of [CHANGES, STATE]) {
    if (!hasTable(schema, name)) {
      throw new Error(`idbsync: the database has no table '${name}': declare the client's tables ` +
        'with db.version(n).stores({...yourStores, ...idbsyncStores()})');
    }
  }
  for (const [table, field] of Object.entries(changedSince)) {
    const t = schema.tables.find((x) => x.name === table);
    if (!t) throw new Error(`idbsync: changedSince names table '${table}', which the database does not have`);
    if (!t.indexes.some((i) => i.name === field)) {
      throw new Error(`idbsync: changedSince: '${table}.${field}' is not an index: declare it in the schema string`);
    }
  }
}

function tracker(down, changedSince) {
  // An upgrade's intermediate schema without the change table: nothing to record into.
  if (!hasTable(down.schema, CHANGES)) return down;
  const changes = down.table(CHANGES);
  return {
    ...down,
    // Every read-write transaction over an app table also covers the change table, so
    // that mutate() below can write to it in the app's own transaction.
    transaction(stores, mode, options) {
      const adds = mode === 'readwrite' && !stores.includes(CHANGES) && stores.some((s) => !isInternal(s));
      return down.transaction(adds ? [...stores, CHANGES] : stores, mode, options);
    },
    table(name) {
      const table = down.table(name);
      if (isInternal(name)) return table;
      const putsTracked = !Object.hasOwn(changedSince, name);
      const record = async (trans, keys) => {
        if (!keys.length) return;
        const rev = newRev();
        const values = keys.map((key) => ({ table: name, key: normalizeKey(key), rev }));
        const res = await changes.mutate({ type: 'put', trans, values });
        // Failing the app's write is better than losing a change without a word.
        if (res.numFailures) throw Object.values(res.failures)[0];
      };
      return {
        ...table,
        async mutate(req) {
          if (req.trans[UNTRACKED]) return table.mutate(req);
          switch (req.type) {
            case 'add':
            case 'put': {
              const res = await table.mutate(req);
              // results are the keys written (auto-incremented ones too); a failed
              // operation of a bulk write has an entry in failures and wrote nothing.
              if (putsTracked) await record(req.trans, (res.results ?? []).filter((k, i) => !(i in res.failures) && k !== undefined));
              return res;
            }
            case 'delete': {
              const res = await table.mutate(req);
              await record(req.trans, req.keys);
              return res;
            }
            case 'deleteRange': {
              // Which keys the range deletes is known only before it runs.
              const { result } = await table.query({ trans: req.trans, values: false, query: { index: table.schema.primaryKey, range: req.range } });
              const res = await table.mutate(req);
              await record(req.trans, result);
              return res;
            }
            default:
              return table.mutate(req);
          }
        },
      };
    },
  };
}

/**
 * Records every record now in `tables` (default: all of the app's) as changed, so that
 * the next sync pushes them: for data written before track() was installed.
 */
export async function markAllChanged(db, tables) {
  const names = tables ?? db.tables.map((t) => t.name).filter((n) => !isInternal(n));
  await db.transaction('rw', [...names, CHANGES], async () => {
    const rev = newRev();
    for (const name of names) {
      const keys = await db.table(name).toCollection().primaryKeys();
      await db.table(CHANGES).bulkPut(keys.map((key) => ({ table: name, key: normalizeKey(key), rev })));
    }
  });
}
