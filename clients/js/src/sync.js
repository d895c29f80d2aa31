// sync(db, options): push the recorded changes, then pull the server's.
//
// _idbsync_state rows: 'client' {id, next} (this database's client id and its next batch
// number), 'pending' (the batch being pushed, see push.js), 'checkpoint/<table>' {value}
// (the server checkpoint pulled last), 'mark/<table>' {value} (changedSince: the newest
// modification time pushed).

import { STATE, isInternal } from './names.js';
import { trackOptions } from './track.js';
import { SyncError, connect } from './http.js';
import { push } from './push.js';
import { pull } from './pull.js';

/** What the server accepts as a client id (the part of Idempotency-Key before '/'). */
const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

const randomId = () => globalThis.crypto?.randomUUID?.() ?? `c${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;

/**
 * This database's client: the stored one, or a new one (id `wanted`, else random). Batch
 * numbers keep growing when the id changes, so that going back to an earlier id never
 * reuses a number the server has seen.
 */
async function client(db, wanted) {
  if (wanted !== undefined && !CLIENT_ID.test(wanted)) {
    throw new TypeError(`idbsync: clientId '${wanted}' is not 1-128 of A-Z a-z 0-9 _ . : -`);
  }
  return db.transaction('rw', STATE, async () => {
    const now = await db.table(STATE).get('client');
    if (now && (wanted === undefined || now.id === wanted)) return now;
    const c = { name: 'client', id: wanted ?? randomId(), next: now?.next ?? 1 };
    await db.table(STATE).put(c);
    return c;
  });
}

/**
 * After a 409 (the server has a later batch of this client id than the pending one: the
 * database was restored from a copy, or two copies share the id): a new random id, and
 * the pending batch dropped; its changes stay recorded and go in the next batch.
 */
async function renewClient(db) {
  await db.transaction('rw', STATE, async () => {
    const now = await db.table(STATE).get('client');
    await db.table(STATE).put({ name: 'client', id: randomId(), next: now?.next ?? 1 });
    await db.table(STATE).delete('pending');
  });
}

// One sync at a time per database: Web Locks across tabs where there are, else within
// this JavaScript realm.
const queues = new Map();
function exclusive(name, fn) {
  if (globalThis.navigator?.locks) return globalThis.navigator.locks.request(name, fn);
  const run = (queues.get(name) ?? Promise.resolve()).catch(() => {}).then(fn);
  queues.set(name, run);
  return run;
}

/** Push, then pull; see index.d.ts for the options and the summary. */
export async function sync(db, options = {}) {
  const tracked = trackOptions(db);
  if (!tracked) throw new Error('idbsync: call track(db) before db.open() to sync it: its changes are not recorded');
  const { url, token, database = db.name, clientId, tables, onProgress, signal, gzip = false, fetch } = options;
  if (!url || !token) throw new TypeError('idbsync: sync needs {url, token}');
  return exclusive(`idbsync:${db.name}`, async () => {
    if (!db.isOpen()) await db.open();
    const all = db.tables.map((t) => t.name).filter((n) => !isInternal(n));
    const names = new Set(tables ?? all);
    for (const t of names) if (!all.includes(t)) throw new TypeError(`idbsync: tables: '${t}' is not a table of ${db.name}`);
    const me = await client(db, clientId);
    const ctx = {
      request: connect({ url, token, database, signal, fetch }),
      tables: names,
      changedSince: tracked.changedSince,
      gzip,
      signal,
      progress: onProgress ?? (() => {}),
    };
    let pushed = [];
    try {
      pushed = await push(db, ctx);
    } catch (e) {
      if (e instanceof SyncError && e.status === 409) {
        await renewClient(db);
        e.message += ' (this database now pushes under a new client id: sync again)';
      }
      throw e;
    }
    const pulled = await pull(db, ctx);
    const last = pushed.at(-1);
    const summary = {
      database,
      clientId: last?.batch[0] ?? me.id,
      batch: last?.batch[1] ?? null,
      batches: pushed.map((p) => p.batch),
      pushed: {},
      rejects: [],
      pulled,
      checkpoints: Object.fromEntries(Object.entries(pulled).map(([t, p]) => [t, p.checkpoint])),
    };
    // Counts add up over the batches; status and checkpoint are the last batch's.
    for (const p of pushed) {
      for (const [t, sent] of Object.entries(p.sent)) {
        const a = p.answer.tables.find((x) => x.table === t) ?? {};
        const was = summary.pushed[t] ?? {};
        const add = (k, v) => (v === undefined ? was[k] : (was[k] ?? 0) + v);
        summary.pushed[t] = {
          upserts: add('upserts', sent.upserts), deletes: add('deletes', sent.deletes), status: a.status,
          upserted: add('upserted', a.upserted), deleted: add('deleted', a.deleted), unchanged: add('unchanged', a.unchanged),
          rejected: add('rejected', a.rejected), checkpoint: a.checkpoint, replayed: p.answer.replayed === true,
        };
        summary.rejects.push(...(a.rejects ?? []).map((r) => ({ table: t, ...r })));
      }
    }
    const rejected = Object.values(summary.pushed).reduce((n, p) => n + (p.rejected ?? 0), 0);
    if (rejected) {
      const first = summary.rejects[0] ?? {};
      throw new SyncError('refused', `idbsync: the server rejected ${rejected} record(s), e.g. record ${first.record} of '${first.table}': ` +
        `${first.reason}${first.path ? ` (at ${first.path})` : ''}; the rest of the sync is done`, { status: 200, rejects: summary.rejects, summary });
    }
    return summary;
  });
}
