// Load test against a real `idbsync serve` on 127.0.0.1 (the binary at IDBSYNC_BIN;
// skipped without it): LOAD_CLIENTS devices push LOAD_BATCHES batches each, all at once.
// Most are light simulated devices sending NDJSON (table 'items') or Dexie exports
// (table 'orders') with fetch; LOAD_DEXIE of them are tracked fake-indexeddb databases
// syncing table 'notes' with the real sync(). Batches insert, update, delete and
// re-insert records; the answer to a share LOAD_LOSE of the pushes is thrown away after
// the server has answered, so the batch is sent again under the same Idempotency-Key.
// At the end every table, read with `idbsync pull`, must equal the devices' models
// (every record once, none lost, deletes applied), each table's Delta log must hold
// each acknowledged batch exactly once, and each Dexie device must hold the server's
// 'notes'. Prints throughput, push latency p50/p99 and the server's peak RSS (VmHWM),
// and writes them as JSON to LOAD_REPORT if set.
//
// Defaults are small for CI (6 devices × 8 batches); the run is
// LOAD_CLIENTS=50 LOAD_BATCHES=100.

import './env.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { startServer } from './serve.mjs';
import {
  DexieDevice, PlainDevice, Stats, assertFinalState, env, memory, percentile,
} from './devices.mjs';

const bin = process.env.IDBSYNC_BIN;
const skip = bin ? false : 'IDBSYNC_BIN is not set: the load test against a real `idbsync serve` is skipped';
if (!bin) console.log(skip);

const CLIENTS = env('LOAD_CLIENTS', 6);
const BATCHES = env('LOAD_BATCHES', 8);
const DEXIE = Math.min(CLIENTS, env('LOAD_DEXIE', 2));
const LOSE = env('LOAD_LOSE', 0.1);
const SEED = env('LOAD_SEED', 18);
const PER_TOKEN = env('LOAD_PUSHES_PER_TOKEN', CLIENTS + 4);
const RSS_BUDGET_MIB = env('LOAD_RSS_BUDGET_MIB', 512);
// A 500 fails the test at once, unless LOAD_RETRY_500=1: then it is retried like a 503
// and counted in the report (to measure a server that has a known 500 under load).
const fatal = process.env.LOAD_RETRY_500 === '1' ? (s) => s >= 400 && s < 500 && s !== 429 : undefined;

test(`load: ${CLIENTS} devices × ${BATCHES} batches at once (${DEXIE} of them Dexie + sync()), deletes, lost answers retried`, { skip, timeout: 3600_000 }, async (t) => {
  // One token for every device: --pushes-per-token LOAD_PUSHES_PER_TOKEN (default above
  // the device count, so that all push at once; 429 is retried).
  const server = await startServer(bin, { args: ['--pushes-per-token', String(PER_TOKEN)] });
  server.token = server.tokens.app;
  let sampler;
  try {
    const stats = new Stats();
    const dexie = [];
    for (let i = 0; i < DEXIE; i++) dexie.push(await DexieDevice.open(`d${i}`, 'notes', SEED * 1000 + i));
    const plain = [];
    for (let i = DEXIE; i < CLIENTS; i++) {
      const ndjson = (i - DEXIE) % 2 === 0;
      plain.push(new PlainDevice(`p${i}`, ndjson ? 'items' : 'orders', ndjson ? 'ndjson' : 'dexie', SEED * 1000 + i));
    }
    let peak = 0; // the largest VmRSS seen while the pushes run (VmHWM is the true peak)
    sampler = setInterval(async () => {
      const m = await memory(server.pid);
      if (m) peak = Math.max(peak, m.rssMiB);
    }, 250);

    const t0 = performance.now();
    await Promise.all([
      ...plain.map(async (d) => { for (let b = 0; b < BATCHES; b++) await d.pushNext(server, stats, { lose: LOSE, fatal }); }),
      ...dexie.map(async (d) => { for (let b = 0; b < BATCHES; b++) await d.syncNext(server, stats, { lose: LOSE, retry500: !!fatal }); }),
    ]);
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const mem = await memory(server.pid);

    const report = {
      binary: bin, clients: CLIENTS, pushes_per_token: PER_TOKEN, dexie_clients: DEXIE, batches_per_client: BATCHES, lose: LOSE, seed: SEED,
      seconds: +seconds.toFixed(2),
      batches: stats.batches, records: stats.records,
      batches_per_s: +(stats.batches / seconds).toFixed(2),
      records_per_s: +(stats.records / seconds).toFixed(1),
      push_ms: {
        n: stats.latencies.length,
        p50: +percentile(stats.latencies, 50).toFixed(1),
        p99: +percentile(stats.latencies, 99).toFixed(1),
        max: +percentile(stats.latencies, 100).toFixed(1),
      },
      server_peak_rss_mib: mem ? +mem.hwmMiB.toFixed(1) : null,
      server_rss_sampled_max_mib: +peak.toFixed(1),
      lost_answers: stats.lost, replayed: stats.replayed, already_applied: stats.alreadyApplied,
      retries: stats.retries, retry_samples: stats.samples,
    };
    console.log(`load: ${inspect(report, { depth: 4, breakLength: 120 })}`);
    t.diagnostic(`${report.batches} batches, ${report.records} records in ${report.seconds} s: ${report.batches_per_s} batches/s, ` +
      `${report.records_per_s} records/s; push p50 ${report.push_ms.p50} ms, p99 ${report.push_ms.p99} ms; server peak RSS ${report.server_peak_rss_mib} MiB`);
    if (process.env.LOAD_REPORT) await writeFile(process.env.LOAD_REPORT, JSON.stringify(report, null, 2) + '\n');

    assert.equal(stats.batches, CLIENTS * BATCHES, 'every batch acknowledged');
    await assertFinalState(server, plain, dexie, stats);
    if (mem) assert.ok(mem.hwmMiB <= RSS_BUDGET_MIB, `the server's peak RSS ${mem.hwmMiB.toFixed(0)} MiB is over the budget of ${RSS_BUDGET_MIB} MiB`);
  } catch (e) {
    console.log(`server log (last 4000 characters):\n${server.log().slice(-4000)}`);
    throw e;
  } finally {
    clearInterval(sampler);
    await server.stop();
  }
});
