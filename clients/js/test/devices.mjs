// Simulated devices for load.test.mjs and kill.test.mjs: each keeps an in-memory model of
// the records it owns (keys disjoint from every other device's, so the union of the
// models is exactly what the server must hold, whatever order the commits land in) and
// makes numbered batches of inserts, updates, deletes and re-inserts. Plain devices send
// each batch with fetch, as NDJSON or as a Dexie export; Dexie devices write to a tracked
// fake-indexeddb database and call the real sync(). Also: reading a table back with
// `idbsync pull`, the batches recorded in a table's Delta log, and latency percentiles.
// Import env.mjs before this module.

import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect, isDeepStrictEqual } from 'node:util';
import { SyncError, sync } from '../src/index.js';
import { openDb } from './helpers.mjs';

/** The number in environment variable `name`, or `dflt` when it is unset or empty. */
export const env = (name, dflt) => (process.env[name] === undefined || process.env[name] === '' ? dflt : Number(process.env[name]));

/** A seeded PRNG (mulberry32): () → [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The p-th percentile (0–100) of `xs` (nearest rank). */
export function percentile(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** What happened to the requests: latencies of answered pushes, retries by cause. */
export class Stats {
  constructor() {
    this.latencies = []; // ms of each push request answered 200 (replays included)
    this.batches = 0; // distinct batches acknowledged
    this.records = 0; // records (upserts + deletes) in those batches
    this.lost = 0; // answers thrown away on purpose (the request had reached the server)
    this.retries = {}; // cause → count
    this.samples = {}; // cause → first detail seen
    this.replayed = 0; // retries answered `replayed: true`
    this.alreadyApplied = 0; // retries answered status already_applied
    this.inflight = 0; // push requests sent and not answered yet
  }
  retry(cause, detail) {
    this.retries[cause] = (this.retries[cause] ?? 0) + 1;
    this.samples[cause] ??= String(detail).slice(0, 500);
  }
}

/** A record of device `dev`, key number `n`, as written in batch `batch`. */
const record = (dev, n, batch, r) => ({
  id: `${dev}-${n}`, dev, n, v: batch, note: `${dev} #${n} @${batch} ${'x'.repeat(Math.floor(r() * 40))}`,
  w: Math.round(r() * 1e6) / 64, meta: { batch, odd: batch % 2 === 1 },
});

/**
 * The changes of one batch for a device whose live records are `model` (Map id →
 * record) and whose dead keys are `dead` (a Set of numbers): 1–3 new records, up to 2
 * updates, sometimes a delete, sometimes a re-insert of a deleted key. Mutates model and
 * dead; returns {upserts: [record], deletes: [id]}.
 */
function changes(dev, state, batch, r) {
  const { model, dead } = state;
  const upserts = [];
  const deletes = [];
  const touched = new Set();
  const live = () => [...model.keys()].filter((k) => !touched.has(k));
  const put = (x) => (upserts.push(x), touched.add(x.id));
  for (let i = 1 + Math.floor(r() * 3); i > 0; i--) put(record(dev, state.next++, batch, r));
  for (let i = Math.floor(r() * 3); i > 0; i--) {
    const ks = live();
    if (!ks.length) break;
    put(record(dev, model.get(ks[Math.floor(r() * ks.length)]).n, batch, r));
  }
  if (r() < 0.35) {
    const ks = live();
    if (ks.length) deletes.push(ks[Math.floor(r() * ks.length)]);
  }
  if (dead.size && r() < 0.15) {
    const n = [...dead][Math.floor(r() * dead.size)];
    upserts.push(record(dev, n, batch, r));
  }
  for (const u of upserts) {
    model.set(u.id, u);
    dead.delete(u.n);
  }
  for (const id of deletes) {
    dead.add(model.get(id).n);
    model.delete(id);
  }
  return { upserts, deletes };
}

/**
 * A device that pushes with plain fetch: `format` 'ndjson' (?table=T&key=id) or 'dexie'
 * (a Dexie export of table T, key path id, tombstones as `{id, _deleted: true}` rows).
 */
export class PlainDevice {
  constructor(id, table, format, seed) {
    Object.assign(this, { id, table, format, r: rng(seed) });
    this.state = { model: new Map(), dead: new Set(), next: 0 };
    this.batch = 0; // the last batch acknowledged
    this.pushed = []; // batch numbers acknowledged
  }

  get model() { return this.state.model; }

  /** The next batch: {n, body, contentType, path, upserts, deletes}. */
  makeBatch() {
    const n = this.batch + 1;
    const { upserts, deletes } = changes(this.id, this.state, n, this.r);
    const rows = [...upserts, ...deletes.map((id) => ({ id, _deleted: true }))];
    if (this.format === 'ndjson') {
      return {
        n, upserts: upserts.length, deletes: deletes.length, contentType: 'application/x-ndjson',
        path: `push?table=${this.table}&key=id`, body: rows.map((x) => JSON.stringify(x)).join('\n') + '\n',
      };
    }
    const doc = {
      formatName: 'dexie', formatVersion: 1,
      data: {
        databaseName: `device-${this.id}`, databaseVersion: 1,
        tables: [{ name: this.table, schema: 'id', rowCount: rows.length }],
        data: [{ tableName: this.table, inbound: true, rows }],
      },
    };
    return { n, upserts: upserts.length, deletes: deletes.length, contentType: 'application/json', path: 'push', body: JSON.stringify(doc) };
  }

  /**
   * Makes the next batch and pushes it until it is acknowledged: an answer thrown away
   * on purpose (probability `lose`, after the server has answered), no answer (the
   * server is down), 429 and 5xx are retried with the same Idempotency-Key. `fatal(status)`
   * says which statuses fail the test at once (default: 4xx but 429, and 500). Unless
   * `expectDown`, a server that has exited fails the test.
   */
  async pushNext(server, stats, { lose = 0, expectDown = false, maxAttempts = 200, fatal = (s) => (s >= 400 && s < 500 && s !== 429) || s === 500 } = {}) {
    const b = this.makeBatch();
    let first; // the answer of the attempt that applied the batch, when it was not lost
    let sent = false; // an attempt was answered 200 (its answer may then have been lost)
    let unsure = false; // an attempt got no answer: it may or may not have been applied
    for (let attempt = 1; ; attempt++) {
      assert.ok(attempt <= maxAttempts, `batch ${this.id}/${b.n}: not acknowledged after ${maxAttempts} attempts: ${inspect(stats.retries)}`);
      const t0 = performance.now();
      let res;
      let text;
      let failed;
      stats.inflight++;
      try {
        res = await fetch(`${server.url}/v1/app/${b.path}`, {
          method: 'POST', body: b.body,
          headers: { authorization: `Bearer ${server.token}`, 'content-type': b.contentType, 'idempotency-key': `${this.id}/${b.n}` },
        });
        text = await res.text();
      } catch (e) {
        failed = e;
      }
      stats.inflight--;
      if (failed) {
        if (!expectDown && server.gone) assert.fail(`batch ${this.id}/${b.n}: the server ${server.gone}:\n${server.log().slice(-3000)}`);
        unsure = true;
        stats.retry('no answer', failed.cause?.message ?? failed.message);
        await sleep(50 + this.r() * 200);
        continue;
      }
      const ms = performance.now() - t0;
      if (res.status !== 200) {
        const cause = `HTTP ${res.status}`;
        if (fatal(res.status)) assert.fail(`batch ${this.id}/${b.n} (${this.table}, attempt ${attempt}): ${cause}: ${text}`);
        stats.retry(cause, text);
        // 429 (all of the token's push slots taken) does not use up the attempts.
        if (res.status === 429) attempt--;
        await sleep(50 * Math.min(attempt, 10) + this.r() * 200);
        continue;
      }
      stats.latencies.push(ms);
      const answer = JSON.parse(text);
      const t = answer.tables?.find((x) => x.table === this.table);
      assert.ok(t, `batch ${this.id}/${b.n}: no report for '${this.table}': ${text}`);
      assert.equal(t.rejected, 0, `batch ${this.id}/${b.n}: rejects: ${text}`);
      if (!sent && !(unsure && t.status === 'already_applied')) {
        // The first attempt to reach the server applies the batch, exactly as sent.
        assert.equal(t.status, 'committed', `batch ${this.id}/${b.n}, first attempt: ${text}`);
        assert.deepEqual([t.upserted, t.deleted], [b.upserts, b.deletes], `batch ${this.id}/${b.n}, first attempt: ${text}`);
        first = t;
      } else if (!sent) {
        // An attempt that got no answer (the server was killed) had applied it.
        assert.equal(t.upserted + t.deleted, 0, `batch ${this.id}/${b.n}: a retry changed records: ${text}`);
        stats.alreadyApplied++;
      } else {
        // A retry applies nothing: the first answer again, or already_applied.
        if (answer.replayed) {
          stats.replayed++;
          if (first) assert.deepEqual(t, first, `batch ${this.id}/${b.n}: a replay is the first answer`);
          else assert.deepEqual([t.status, t.upserted, t.deleted], ['committed', b.upserts, b.deletes], `batch ${this.id}/${b.n}: replay: ${text}`);
        } else {
          assert.equal(t.status, 'already_applied', `batch ${this.id}/${b.n}, attempt ${attempt}, applied twice? ${text}`);
          assert.equal(t.upserted + t.deleted, 0, `batch ${this.id}/${b.n}: a retry changed records: ${text}`);
          stats.alreadyApplied++;
        }
      }
      sent = true;
      if (lose && attempt === 1 && this.r() < lose) {
        // The server has answered; the answer is lost on its way back: retry.
        stats.lost++;
        first = undefined;
        continue;
      }
      break;
    }
    this.batch = b.n;
    this.pushed.push(b.n);
    stats.batches++;
    stats.records += b.upserts + b.deletes;
  }
}

/**
 * A device that is a tracked Dexie database (table `table`, key `id`) syncing with the
 * real sync() through a fetch that loses the answer to some pushes (probability `lose`).
 */
export class DexieDevice {
  static async open(id, table, seed) {
    const d = new DexieDevice();
    Object.assign(d, { id, table, r: rng(seed) });
    d.state = { model: new Map(), dead: new Set(), next: 0 };
    d.db = await openDb({ [table]: 'id' });
    d.round = 0; // writes made (one batch each)
    d.batches = new Set(); // 'client/n' acknowledged
    return d;
  }

  get model() { return this.state.model; }

  /** A fetch that times pushes into `stats` and throws away some of their answers. */
  fetcher(stats, lose) {
    return async (url, init) => {
      const push = url.includes('/push');
      if (!push) return fetch(url, init);
      const t0 = performance.now();
      stats.inflight++;
      let res;
      let text;
      try {
        res = await fetch(url, init);
        text = await res.text();
      } finally {
        stats.inflight--;
      }
      if (res.status === 200) stats.latencies.push(performance.now() - t0);
      if (res.status === 200 && lose && this.r() < lose) {
        stats.lost++;
        throw new TypeError('fetch failed (the test threw the answer away)');
      }
      return new Response(text, { status: res.status, headers: res.headers });
    };
  }

  /**
   * One round: a batch of writes to the database, then sync() until it succeeds
   * (network and server errors retried; a sync resumes the pending batch under its number).
   */
  async syncNext(server, stats, { lose = 0, expectDown = false, retry500 = false, maxAttempts = 200 } = {}) {
    this.round++;
    const { upserts, deletes } = changes(this.id, this.state, this.round, this.r);
    await this.db.transaction('rw', this.table, async () => {
      await this.db.table(this.table).bulkPut(upserts);
      await this.db.table(this.table).bulkDelete(deletes);
    });
    const s = await this.syncUntilDone(server, stats, { lose, expectDown, retry500, maxAttempts });
    stats.batches += s.batchesNew;
    stats.records += upserts.length + deletes.length;
  }

  /**
   * sync() until it resolves; returns {summary, batchesNew}. The batches acknowledged
   * are taken from onProgress (a sync whose push was answered may still fail in its pull).
   */
  async syncUntilDone(server, stats, { lose = 0, expectDown = false, retry500 = false, maxAttempts = 200 } = {}) {
    let batchesNew = 0;
    const client = this.id;
    const onProgress = (p) => {
      if (p.phase !== 'push' || p.stage !== 'done') return;
      const k = `${client}/${p.batch}`;
      if (!this.batches.has(k)) batchesNew++;
      this.batches.add(k);
    };
    const options = {
      url: server.url, token: server.token, database: 'app', clientId: client, tables: [this.table], fetch: this.fetcher(stats, lose), onProgress,
    };
    for (let attempt = 1; ; attempt++) {
      assert.ok(attempt <= maxAttempts, `device ${this.id}: sync failed ${maxAttempts} times: ${inspect(stats.retries)}`);
      try {
        const summary = await sync(this.db, options);
        if (attempt > 1 && summary.pushed[this.table]?.replayed) stats.replayed++;
        return { summary, batchesNew };
      } catch (e) {
        if (!(e instanceof SyncError) || !['network', 'server'].includes(e.kind) || (e.status === 500 && !retry500)) throw e;
        if (!expectDown && server.gone) assert.fail(`device ${this.id}: the server ${server.gone}:\n${server.log().slice(-3000)}`);
        stats.retry(e.kind === 'network' ? 'no answer (sync)' : `HTTP ${e.status} (sync)`, e.message);
        if (e.status === 429) attempt--;
        await sleep(50 * Math.min(attempt, 10) + this.r() * 200);
      }
    }
  }

  /** The records of the device's table, by key. */
  async records() {
    return this.db.table(this.table).toArray();
  }
}

/**
 * The current records of `table` in database 'app', read apart from the server with
 * `idbsync pull <root>/app --table T --format ndjson`.
 */
export async function held(server, table) {
  const out = await server.idbsync('pull', join(server.root, 'app'), '--table', table, '--format', 'ndjson', '--to', '-', '-q');
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => !('_checkpoint' in x));
}

/**
 * Checks that `rows` (the server's table) hold every record of the `models` (Maps id →
 * record) exactly once and nothing else.
 */
export function assertEqualsModel(table, rows, models) {
  const want = new Map();
  for (const m of models) for (const [k, v] of m) want.set(k, v);
  const seen = new Map();
  const dups = [];
  for (const row of rows) {
    if (seen.has(row.id)) dups.push(row.id);
    seen.set(row.id, row);
  }
  assert.deepEqual(dups, [], `${table}: keys held more than once`);
  const missing = [...want.keys()].filter((k) => !seen.has(k));
  const extra = [...seen.keys()].filter((k) => !want.has(k));
  const differ = [...want.keys()].filter((k) => seen.has(k) && !isDeepStrictEqual(seen.get(k), want.get(k)));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${table}: missing (lost or deleted wrongly) / extra (deletes not applied)`);
  assert.deepEqual(differ, [], `${table}: records differ from the model, e.g. ${inspect([seen.get(differ[0]), want.get(differ[0])])}`);
  assert.equal(rows.length, want.size);
}

/**
 * The batches recorded in the Delta log of table `table` (database 'app'): Map
 * 'client/n' → the number of commits that carry that application transaction
 * (`txn` action, app id `idbsync:<client>`).
 */
export async function loggedBatches(server, table) {
  const log = join(server.root, 'app', table, '_delta_log');
  const counts = new Map();
  for (const f of (await readdir(log)).filter((n) => /^\d{20}\.json$/.test(n))) {
    for (const line of (await readFile(join(log, f), 'utf8')).split('\n')) {
      if (!line.includes('"txn"')) continue;
      const { txn } = JSON.parse(line);
      if (!txn) continue;
      const k = `${txn.appId.replace(/^idbsync:/, '')}/${txn.version}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  return counts;
}

/** Checks that the log of `table` records each of `batches` ('client/n') once, and no other. */
export async function assertEachBatchOnce(server, table, batches) {
  const counts = await loggedBatches(server, table);
  const twice = [...counts].filter(([, c]) => c > 1);
  assert.deepEqual(twice, [], `${table}: batches committed more than once`);
  const want = new Set(batches);
  assert.deepEqual([...want].filter((b) => !counts.has(b)), [], `${table}: acknowledged batches not in the log`);
  assert.deepEqual([...counts.keys()].filter((b) => !want.has(b)), [], `${table}: batches in the log that no device acknowledged`);
}

/** The server's memory high-water mark and current size (MiB), from /proc/<pid>/status. */
export async function memory(pid) {
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(s.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
    return { hwmMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
  } catch {
    return null; // not Linux, or the process is gone
  }
}

/**
 * The end state both the load and the kill test require: each plain table (`items`,
 * `orders`) equals its devices' models with each acknowledged batch once in its log; and,
 * after one more sync each, the Dexie devices' `notes` equal the server's, whose table
 * equals their models with each of their batches once.
 */
export async function assertFinalState(server, plain, dexie, stats) {
  for (const table of ['items', 'orders']) {
    const devices = plain.filter((d) => d.table === table);
    if (!devices.length) continue;
    assertEqualsModel(table, await held(server, table), devices.map((d) => d.model));
    await assertEachBatchOnce(server, table, devices.flatMap((d) => d.pushed.map((n) => `${d.id}/${n}`)));
  }
  if (!dexie.length) return;
  // One more sync each (nothing lost) so that every device has pulled every other's.
  for (const d of dexie) await d.syncUntilDone(server, stats);
  const rows = await held(server, 'notes');
  assertEqualsModel('notes', rows, dexie.map((d) => d.model));
  await assertEachBatchOnce(server, 'notes', dexie.flatMap((d) => [...d.batches]));
  const byId = (xs) => [...xs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const d of dexie) {
    assert.ok(isDeepStrictEqual(byId(await d.records()), byId(rows)), `device ${d.id}'s notes differ from the server's`);
  }
}
