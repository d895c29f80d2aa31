// The sync round trip of issue 17, with the real tools. fast-check generates sequences of
// batches of changes to a Dexie database `shop` (stores `items: 'id, cat'` and
// `pairs: '[a+b], v'`): puts (records with a Date, a float, an integer, a boolean, a
// nested object, a list of strings, and from the second batch on an optional field that
// adds a column and a field `v` that may turn from integers to text, Dates or floats,
// which widens its column to JSON text or Float64) and deletes (`{<key>, _deleted: true}`, RxDB's convention), from two
// clients. Each batch is written to a fresh fake-indexeddb database ("the device that
// changed them"), exported with the stock exportDB and pushed with
// `idbsync push EXPORT ROOT --client C --batch N --json`; an in-memory model applies the
// same changes (the last change of a key wins).
//
// After each push (and a re-push of the same batch, which must change nothing, and of the
// client's previous batch, which must be refused), "another device" pulls every table:
// the first time the whole table (`pull --format dexie`), then `pull --since CHECKPOINT`,
// each applied to its own Dexie database with the stock
// `importInto(db, blob, {overwriteValues: true})` plus `bulkDelete` of the keys in the
// sidecar (`FILE.sync.json`), whose checkpoint the next pull starts from. Its records and
// keys must be util.isDeepStrictEqual to the model's (compare.mjs), after every batch; so
// must a whole-table pull into an empty database. Each push's accounting must match the
// model: read = upserted + deleted + unchanged, nothing rejected.
//
// Run: node sync.mjs --idbsync PATH [--seed N] [--runs N] [--path P] [--verbose]
// (or IDBSYNC_BIN, SYNC_SEED, SYNC_RUNS). A failure prints the seed and path that replay it.

import './env.mjs'; // must come first: globals for Dexie and dexie-export-import
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, isDeepStrictEqual, parseArgs, promisify } from 'node:util';
import Dexie from 'dexie';
import { exportDB, importInto } from 'dexie-export-import';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import fc from 'fast-check';
import { diffEntries, entries } from './compare.mjs';
import { quote } from './cases.mjs';

const { values: opt } = parseArgs({
  options: {
    idbsync: { type: 'string', default: process.env.IDBSYNC_BIN },
    seed: { type: 'string', default: process.env.SYNC_SEED },
    runs: { type: 'string', default: process.env.SYNC_RUNS ?? '25' },
    path: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});
if (!opt.idbsync) {
  console.error('usage: node sync.mjs --idbsync PATH [--seed N] [--runs N] [--path P] [--verbose]');
  process.exit(2);
}
const seed = Number(opt.seed ?? Date.now() % 2 ** 31);
const runs = Number(opt.runs);

const DB = 'shop';
const VERSION = 3;
const SCHEMA = { items: 'id, cat', pairs: '[a+b], v' };
const keyOf = { items: (r) => r.id, pairs: (r) => [r.a, r.b] };
const tombstone = { items: (k) => ({ id: k, _deleted: true }), pairs: ([a, b]) => ({ a, b, _deleted: true }) };

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

const text = fc.string({ unit: 'grapheme', maxLength: 6 });
const date = fc.date({ min: new Date(Date.UTC(1950, 0, 1)), max: new Date(Date.UTC(2100, 0, 1)), noInvalidDate: true });

/** A put of `items` (`extra`: whether the optional field may be there). */
const item = (extra) => fc.record({
  id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'é', '日'),
  cat: fc.constantFrom('tools', 'toys', ''),
  name: text,
  n: fc.integer({ min: -1e9, max: 1e9 }),
  price: fc.integer({ min: -1000, max: 100000 }).map((c) => c + 0.25),
  ok: fc.boolean(),
  when: date,
  dims: fc.record({ w: fc.integer({ min: 0, max: 100 }), h: fc.integer({ min: 0, max: 100 }) }),
  tags: fc.array(text, { minLength: 1, maxLength: 3 }),
  ...(extra ? { note: text } : {}),
}, { requiredKeys: ['id', 'cat', 'name', 'n', 'price', 'ok', 'when', 'dims', 'tags'] });

const pair = (extra) => fc.record({
  a: fc.constantFrom('x', 'y'),
  b: fc.integer({ min: 1, max: 3 }),
  // From the second batch on, `v` may change type: text, a Date or a float where the
  // first batches had integers (the table's column widens, issue 17's JSON-text fallback).
  v: extra ? fc.oneof(fc.integer({ min: 0, max: 9 }), text, date, fc.integer({ min: 0, max: 9 }).map((n) => n + 0.5))
    : fc.integer({ min: 0, max: 9 }),
  ...(extra ? { seen: date } : {}),
}, { requiredKeys: ['a', 'b', 'v'] });

/** One change: a put of a record, or a delete of a key. */
const change = (store, put) => fc.oneof(
  { weight: 3, arbitrary: put.map((value) => ({ put: value })) },
  { weight: 1, arbitrary: put.map((value) => ({ del: keyOf[store](value) })) },
);

const batch = (extra) => fc.record({
  client: fc.constantFrom('phone', 'laptop'),
  items: fc.array(change('items', item(extra)), { maxLength: 6 }),
  pairs: fc.array(change('pairs', pair(extra)), { maxLength: 4 }),
  again: fc.boolean(), // push the same batch twice: the second changes nothing
  stale: fc.boolean(), // then push the client's previous batch: refused
  whole: fc.boolean(), // also check a whole-table pull into an empty database
});

const batches = fc.tuple(batch(false), fc.array(batch(true), { maxLength: 4 })).map(([first, rest]) => [first, ...rest]);

// ---------------------------------------------------------------------------------------
// The devices
// ---------------------------------------------------------------------------------------

const execFileP = promisify(execFile);

/** Runs idbsync; resolves to {code, stdout, stderr} and records the command in `log`. */
async function idbsync(args, log) {
  log.push(['idbsync', ...args].map(quote).join(' '));
  try {
    const { stdout, stderr } = await execFileP(opt.idbsync, args, { maxBuffer: 64 << 20, timeout: 300_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    if (typeof e.code !== 'number') throw e;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A Dexie database `shop` in an IndexedDB of its own (a device of its own). */
async function device() {
  const db = new Dexie(DB, { indexedDB: new IDBFactory(), IDBKeyRange });
  db.version(VERSION).stores(SCHEMA);
  await db.open();
  return db;
}

/** The stock export of a batch's changes, made on a device that holds only them. */
async function exportBatch(b) {
  const db = await device();
  try {
    for (const store of Object.keys(SCHEMA)) {
      for (const c of b[store]) await db.table(store).put('put' in c ? structuredClone(c.put) : tombstone[store](c.del));
    }
    return await (await exportDB(db, { prettyJson: false })).text();
  } finally {
    db.close();
  }
}

/** Applies a pull (`FILE` and `FILE.sync.json`) to `db`: stock importInto, then bulkDelete. */
async function applyPull(db, store, file) {
  await importInto(db, new Blob([await readFile(file)]), { overwriteValues: true });
  const side = JSON.parse(await readFile(`${file}.sync.json`, 'utf8'));
  await db.table(store).bulkDelete(side.deleted);
  return side;
}

/** The model's [key, value] entries of `store`, in IndexedDB key order. */
function modelEntries(model, store) {
  return [...model[store].values()].map((v) => [keyOf[store](v), structuredClone(v)])
    .sort(([a], [b]) => indexedDB.cmp(a, b));
}

async function compare(db, model, store, what) {
  const problems = await diffEntries(modelEntries(model, store), await entries(db, store));
  return problems.map((p) => `${what}, table ${store}: ${p}`);
}

// ---------------------------------------------------------------------------------------
// One case
// ---------------------------------------------------------------------------------------

const stats = { cases: 0, batches: 0, pushes: 0, pulls: 0, records: 0, widened: 0 };

async function syncCase(list, dir, log) {
  const root = join(dir, 'sync');
  const model = { items: new Map(), pairs: new Map() };
  const k = (store, key) => JSON.stringify(key) + store;
  const seqs = { phone: 0, laptop: 0 };
  const sent = {}; // client → its last export file
  const client = await device(); // the device that pulls
  const checkpoints = {}; // table → the checkpoint its last pull gave
  const problems = [];
  try {
    for (const [i, b] of list.entries()) {
      const seq = ++seqs[b.client];
      const file = join(dir, `batch-${i}-${b.client}-${seq}.json`);
      await writeFile(file, await exportBatch(b));
      // What the push must do, from the model: the last change of each key counts.
      const expect = {};
      for (const store of Object.keys(SCHEMA)) {
        const last = new Map();
        for (const c of b[store]) last.set(k(store, 'put' in c ? keyOf[store](c.put) : c.del), c);
        const e = { read: last.size, upserted: 0, deleted: 0, unchanged: 0 };
        for (const [key, c] of last) {
          if ('put' in c) {
            // As stored: structuredClone (fast-check's records may have a null prototype).
            const value = structuredClone(c.put);
            const same = model[store].has(key) && isDeepStrictEqual(model[store].get(key), value);
            e[same ? 'unchanged' : 'upserted']++;
            model[store].set(key, value);
          } else {
            e[model[store].delete(key) ? 'deleted' : 'unchanged']++;
          }
        }
        expect[store] = e;
      }
      const pushed = async (label) => {
        const r = await idbsync(['push', file, root, '--client', b.client, '--batch', String(seq), '--json'], log);
        stats.pushes++;
        if (r.code !== 0) return problems.push(`${label} exited ${r.code}: ${r.stderr.trim()}`) && null;
        return JSON.parse(r.stdout).tables;
      };
      const tables = await pushed(`push of batch ${i}`);
      if (!tables) break;
      for (const t of tables) {
        stats.widened += (t.widened_columns ?? []).length;
        const e = expect[t.table];
        const got = { read: t.read, upserted: t.upserted, deleted: t.deleted, unchanged: t.unchanged };
        if (inspect(got) !== inspect(e) || t.rejected !== 0) {
          problems.push(`push of batch ${i}, table ${t.table}: ${inspect(got)}, rejected ${t.rejected}, expected ${inspect(e)}` +
            (t.rejects.length ? `\n  first reject: ${inspect(t.rejects[0])}` : ''));
        }
      }
      if (b.again) {
        const again = await pushed(`re-push of batch ${i}`);
        if (!again) break;
        for (const t of again) {
          const before = tables.find((x) => x.table === t.table);
          if (t.status !== 'already_applied' || t.checkpoint !== before.checkpoint || t.upserted + t.deleted !== 0) {
            problems.push(`re-push of batch ${i}, table ${t.table}: status ${t.status}, checkpoint ${t.checkpoint} ` +
              `(was ${before.checkpoint}), ${t.upserted} upserted, ${t.deleted} deleted: expected nothing applied`);
          }
        }
      }
      if (b.stale && sent[b.client]) {
        const r = await idbsync(['push', sent[b.client].file, root, '--client', b.client, '--batch', String(sent[b.client].seq)], log);
        stats.pushes++;
        if (r.code === 0 || !/older than batch/.test(r.stderr)) {
          problems.push(`push of ${b.client}'s previous batch after batch ${i}: exited ${r.code}, expected a refusal: ${r.stderr.trim()}`);
        }
      }
      sent[b.client] = { file, seq };

      for (const store of Object.keys(SCHEMA)) {
        const out = join(dir, `pull-${i}-${store}.json`);
        const since = checkpoints[store] === undefined ? [] : ['--since', String(checkpoints[store])];
        const r = await idbsync(['pull', root, '--table', store, ...since, '--format', 'dexie', '--to', out, '-q'], log);
        stats.pulls++;
        if (r.code !== 0) {
          problems.push(`pull of ${store} after batch ${i} exited ${r.code}: ${r.stderr.trim()}`);
          continue;
        }
        const side = await applyPull(client, store, out).catch((e) => e);
        if (side instanceof Error) {
          problems.push(`applying the pull of ${store} after batch ${i}: ${side.stack}`);
          continue;
        }
        checkpoints[store] = side.checkpoint;
        problems.push(...(await compare(client, model, store, `after batch ${i}, the pulling device`)));
        stats.records += model[store].size;

        if (b.whole || i === list.length - 1) {
          const whole = join(dir, `whole-${i}-${store}.json`);
          const w = await idbsync(['pull', root, '--table', store, '--format', 'dexie', '--to', whole, '-q'], log);
          stats.pulls++;
          if (w.code !== 0) {
            problems.push(`whole pull of ${store} after batch ${i} exited ${w.code}: ${w.stderr.trim()}`);
            continue;
          }
          const fresh = await device();
          try {
            await applyPull(fresh, store, whole);
            problems.push(...(await compare(fresh, model, store, `after batch ${i}, a whole-table pull`)));
          } finally {
            fresh.close();
          }
        }
      }
      stats.batches++;
      if (problems.length) break;
    }
  } finally {
    client.close();
  }
  return problems;
}

async function runCase(list, keep) {
  const dir = await mkdtemp(join(tmpdir(), 'idbsync-sync-'));
  const log = [];
  try {
    const problems = await syncCase(list, dir, log);
    if (problems.length) throw new Error(`${problems.join('\n')}\n\ncommands (in ${dir}):\n  ${log.join('\n  ')}`);
    return dir;
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

console.log(`sync: seed ${seed}, ${runs} cases, idbsync ${opt.idbsync}`);
const started = Date.now();
const property = fc.asyncProperty(fc.limitShrink(batches, 100), async (list) => {
  stats.cases++;
  await runCase(list, false);
});
const result = await fc.check(property, { seed, numRuns: runs, path: opt.path });
const secs = ((Date.now() - started) / 1000).toFixed(1);
console.log(`sync: ${stats.cases} cases, ${stats.batches} batches, ${stats.pushes} pushes, ${stats.pulls} pulls, ` +
  `${stats.records} records compared, ${stats.widened} columns widened, ${secs} s`);
if (result.failed) {
  console.log(`\nFAIL (seed ${result.seed}, path ${result.counterexamplePath}, shrunk ${result.numShrinks} times)`);
  console.log(result.errorInstance?.message ?? result.error);
  console.log('\nrun again:');
  try {
    const dir = await runCase(result.counterexample[0], true);
    console.log(`the shrunk case passed when run again (flaky?): ${dir}`);
  } catch (e) {
    console.log(e.message);
  }
  console.log(`\nreplay: node sync.mjs --idbsync ${quote(opt.idbsync)} --seed ${result.seed} --path ${quote(result.counterexamplePath)}`);
  if (opt.verbose) console.log(inspect(result.counterexample[0], { depth: 6 }));
}
process.exitCode = result.failed ? 1 : 0;
