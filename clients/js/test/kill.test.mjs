// kill -9 of `idbsync serve` while devices push (the binary at IDBSYNC_BIN; skipped
// without it). KILL_CLIENTS devices push KILL_BATCHES batches each, all at once: light
// simulated devices sending NDJSON ('items') or Dexie exports ('orders') with fetch, and
// two tracked fake-indexeddb databases syncing 'notes' with the real sync(). Meanwhile
// the server is SIGKILLed KILL_TIMES times, at moments spread over the run (each once a
// share of the batches has been acknowledged, after a random delay, with pushes in
// flight), and started again on the same root, tokens and port. Devices retry a batch
// that got no answer under the same Idempotency-Key (sync() resumes its pending batch).
// At the end every table, read with `idbsync pull`, must equal the devices' models,
// each table's Delta log must hold each acknowledged batch exactly once (no batch
// applied twice, none lost), and each Dexie device must hold the server's 'notes'.

import './env.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { startServer } from './serve.mjs';
import {
  DexieDevice, PlainDevice, Stats, assertFinalState, env, rng,
} from './devices.mjs';

const bin = process.env.IDBSYNC_BIN;
const skip = bin ? false : 'IDBSYNC_BIN is not set: the kill -9 test against a real `idbsync serve` is skipped';
if (!bin) console.log(skip);

const CLIENTS = env('KILL_CLIENTS', 8);
const BATCHES = env('KILL_BATCHES', 12);
const KILLS = env('KILL_TIMES', 4);
const SEED = env('KILL_SEED', 18);
const DEXIE = Math.min(2, CLIENTS);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Parquet files in the table folder that no commit of its log adds (a killed write's). */
async function orphans(root, table) {
  const dir = join(root, 'app', table);
  const added = new Set();
  for (const f of (await readdir(join(dir, '_delta_log'))).filter((n) => n.endsWith('.json'))) {
    for (const line of (await readFile(join(dir, '_delta_log', f), 'utf8')).split('\n')) {
      if (line.startsWith('{"add"')) added.add(JSON.parse(line).add.path);
    }
  }
  return (await readdir(dir)).filter((n) => n.endsWith('.parquet') && !added.has(n)).length;
}

test(`kill -9: ${CLIENTS} devices × ${BATCHES} batches, the server SIGKILLed ${KILLS} times and restarted`, { skip, timeout: 1800_000 }, async (t) => {
  const spool = await mkdtemp(join(tmpdir(), 'idbsync-kill-spool-'));
  const server = await startServer(bin, { args: ['--pushes-per-token', String(CLIENTS + 4), '--spool', spool] });
  server.token = server.tokens.app;
  const r = rng(SEED);
  try {
    const stats = new Stats();
    const dexie = [];
    for (let i = 0; i < DEXIE; i++) dexie.push(await DexieDevice.open(`d${i}`, 'notes', SEED * 1000 + i));
    const plain = [];
    for (let i = DEXIE; i < CLIENTS; i++) {
      const ndjson = (i - DEXIE) % 3 !== 2;
      plain.push(new PlainDevice(`p${i}`, ndjson ? 'items' : 'orders', ndjson ? 'ndjson' : 'dexie', SEED * 1000 + i));
    }
    const opts = { expectDown: true, maxAttempts: 400 };
    // Each table is created before the kills start, by one device's first batch (the
    // race of concurrent creations is the load test's business).
    for (const table of ['items', 'orders']) await plain.find((d) => d.table === table)?.pushNext(server, stats, opts);
    if (dexie.length) await dexie[0].syncNext(server, stats, opts);

    const total = CLIENTS * BATCHES;
    let done = false;
    const kills = [];
    const killer = (async () => {
      for (let k = 1; k <= KILLS && !done; k++) {
        // Spread over the run: once k/(KILLS+1) of the batches are acknowledged, then
        // up to 400 ms more, so that the kill lands at a random point of the pushes.
        while (!done && stats.batches < (k * total) / (KILLS + 1)) await sleep(20);
        await sleep(r() * 400);
        if (done) break;
        const at = { batches: stats.batches, inflight: stats.inflight, pid: server.pid };
        at.exit = await server.kill('SIGKILL');
        await sleep(100 + r() * 400); // down for a moment: devices get no answer
        const t0 = performance.now();
        await server.restart();
        at.restartMs = Math.round(performance.now() - t0);
        kills.push(at);
      }
    })();
    await Promise.all([
      ...plain.map(async (d) => { while (d.batch < BATCHES) await d.pushNext(server, stats, opts); }),
      ...dexie.map(async (d) => { while (d.round < BATCHES) await d.syncNext(server, stats, opts); }),
    ]);
    done = true;
    await killer;

    const orphanFiles = {};
    for (const table of ['items', 'orders', 'notes']) orphanFiles[table] = await orphans(server.root, table).catch(() => null);
    const spoolLeft = (await readdir(spool)).length;
    const report = { kills, batches: stats.batches, retries: stats.retries, replayed: stats.replayed, alreadyApplied: stats.alreadyApplied, orphanFiles, spoolLeft };
    console.log(`kill: ${inspect(report, { depth: 4, breakLength: 120 })}`);
    t.diagnostic(`${kills.length} kills (pushes in flight at each: ${kills.map((k) => k.inflight).join(', ')}); ` +
      `${stats.alreadyApplied} retries answered already_applied; parquet files of killed writes left: ${inspect(orphanFiles)}; spool entries left: ${spoolLeft}`);

    assert.equal(kills.length, KILLS, 'every kill happened during the run');
    // Each killed server's spool folder was removed by the next start: only the running
    // server's own is left, holding its lock file and no body.
    const spoolEntries = await readdir(spool);
    assert.equal(spoolEntries.length, 1, `spool entries left: ${inspect(spoolEntries)}`);
    assert.ok(spoolEntries[0].startsWith(`idbsync-serve-${server.pid}-`), `spool entries left: ${inspect(spoolEntries)}`);
    assert.deepEqual(await readdir(join(spool, spoolEntries[0])), ['lock']);
    assert.ok(kills.some((k) => k.inflight > 0), 'some kill hit pushes in flight');
    assert.equal(stats.batches, total, 'every batch acknowledged');
    await assertFinalState(server, plain, dexie, stats);
  } catch (e) {
    console.log(`server log (last 4000 characters):\n${server.log().slice(-4000)}`);
    throw e;
  } finally {
    await server.stop();
    await rm(spool, { recursive: true, force: true });
  }
});
