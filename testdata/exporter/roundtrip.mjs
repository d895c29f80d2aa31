// The property-based round trip of issue 14, with the real tools. fast-check generates:
//
// - dexie mode: random IndexedDB databases (arbitraries.mjs), written to fake-indexeddb
//   with Dexie and exported with the stock exportDB. idbsync converts the export (plain,
//   and partitioned by a column when one fits) and downloads every table with
//   `--format dexie`. The original export is imported with the stock importDB, each
//   download with the stock importInto, and every record and key must be
//   util.isDeepStrictEqual (compare.mjs: Blobs by type and bytes).
// - ndjson mode: random JSON records, written as NDJSON (lone surrogates as `\udXXX`
//   escapes; sometimes every non-ASCII code unit escaped), converted and downloaded with
//   `--format ndjson`. NDJSON equality is what a JavaScript app reads: each output line,
//   JSON.parse'd, must be util.isDeepStrictEqual to the input line JSON.parse'd. So
//   numbers are compared as IEEE doubles (`9007199254740993` equals `9007199254740992`,
//   `1e-400` equals `0`, `-0` does not equal `0`) and object key order is ignored.
//   Partitioned downloads come grouped by partition: their lines are compared as a multiset.
//
// A record that idbsync rejects (counted in the `--json` summary and kept in `_rejects/`
// with a reason) is left out of the expected output; every other record must come back
// unchanged, and `read = written + rejected` must hold. A partitioned convert may refuse
// its partition term with an error that names it; nothing else may fail.
//
// Run: node roundtrip.mjs --idbsync PATH [--seed N] [--runs N] [--mode dexie|ndjson|both]
//        [--exclude open|CLASS,...] [--path P] [--no-shrink] [--keep-going] [--verbose]
// (or IDBSYNC_BIN, ROUNDTRIP_SEED, ROUNDTRIP_RUNS, ROUNDTRIP_EXCLUDE). --runs counts cases
// per mode. A failure prints the seed and fast-check path that replay it, and keeps the
// shrunk case's files (export or NDJSON, outputs, downloads) in a folder it names.
// --keep-going (for long hunts) neither stops nor shrinks: it prints every failure with
// the path that replays it. --exclude leaves out failure classes (arbitraries.mjs, CLASSES);
// `open` names the classes of the findings still open in findings/findings.json.
// The case itself (convert, download, compare) is cases.mjs, shared with findings.mjs.


import './env.mjs'; // must come first: globals for Dexie and dexie-export-import
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import Dexie from 'dexie';
import { exportDB } from 'dexie-export-import';
import fc from 'fast-check';
import { arbitraries, CLASSES, partitionTerm } from './arbitraries.mjs';
import { caseRunner, quote, toJson } from './cases.mjs';

const { values: opt } = parseArgs({
  options: {
    idbsync: { type: 'string', default: process.env.IDBSYNC_BIN },
    seed: { type: 'string', default: process.env.ROUNDTRIP_SEED },
    runs: { type: 'string', default: process.env.ROUNDTRIP_RUNS ?? '100' },
    mode: { type: 'string', default: 'both' },
    exclude: { type: 'string', default: process.env.ROUNDTRIP_EXCLUDE ?? '' },
    path: { type: 'string' },
    'no-shrink': { type: 'boolean', default: false },
    'keep-going': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
if (!opt.idbsync) {
  console.error('usage: node roundtrip.mjs --idbsync PATH [--seed N] [--runs N] [--mode dexie|ndjson|both] [--exclude open|CLASS,...]');
  process.exit(2);
}
const seed = Number(opt.seed ?? Date.now() % 2 ** 31);
const runs = Number(opt.runs);
// `open`: the classes of the findings marked open in findings/findings.json; `none`: none.
const openClasses = async () => JSON.parse(await readFile(new URL('./findings/findings.json', import.meta.url), 'utf8'))
  .findings.filter((f) => f.status !== 'fixed').map((f) => f.class);
const exclude = new Set();
for (const c of opt.exclude.split(',').filter((x) => x && x !== 'none')) {
  for (const x of c === 'open' ? await openClasses() : [c]) {
    if (!(x in CLASSES)) throw new Error(`unknown class '${x}' (classes: ${Object.keys(CLASSES).join(', ')})`);
    exclude.add(x);
  }
}
const { database, ndjson } = arbitraries(exclude);
const { stats, dexieText, ndjsonText, runCase } = caseRunner({ bin: opt.idbsync, exclude });

// ---------------------------------------------------------------------------------------
// dexie mode
// ---------------------------------------------------------------------------------------

/** A shallow copy (Dexie writes auto-incremented keys into the objects it adds). */
const copy = (v) => (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype
  ? Object.defineProperties({}, Object.getOwnPropertyDescriptors(v)) : v);

/**
 * Writes a generated database to fake-indexeddb and exports it with the stock exportDB.
 * Resolves to undefined when exportDB itself fails: dexie-export-import 4.4.0 cannot
 * export a Blob under a property name that holds `.` or `~` (its finalize step looks the
 * escaped typeson key path up with Dexie.getByKeyPath), so such cases are skipped.
 */
async function exportDatabase(spec) {
  await Dexie.delete(spec.name);
  const db = new Dexie(spec.name);
  db.version(spec.version).stores(Object.fromEntries(spec.stores.map((s) => [s.name, s.schema])));
  await db.open();
  try {
    for (const s of spec.stores) {
      const table = db.table(s.name);
      for (const row of s.rows) await ('key' in row ? table.add(row.value, row.key) : table.add(copy(row.value)));
    }
    return await exportDB(db, { prettyJson: false }).then((blob) => blob.text(), () => undefined);
  } finally {
    await db.delete();
  }
}

async function dexieCase(spec, dir, log) {
  const text = await exportDatabase(spec);
  if (text === undefined) stats.unexportable++;
  fc.pre(text !== undefined);
  const term = partitionTerm(spec.stores.map((s) => s.rows.map((r) => r.value)), spec.pick, exclude);
  const variants = [['plain', []], ...(term ? [['parted', [`--partition-by=${term}`]]] : [])];
  // The stock importDB cannot read every export that exportDB writes (see README); such
  // a case says nothing about idbsync and is skipped.
  const problems = await dexieText(text, variants, dir, log);
  if (problems === undefined) stats.unimportable++;
  fc.pre(problems !== undefined);
  return problems;
}

// ---------------------------------------------------------------------------------------
// ndjson mode
// ---------------------------------------------------------------------------------------

async function ndjsonCase({ records, ascii, pick }, dir, log) {
  const term = partitionTerm([records], pick, exclude);
  const variants = [['plain', []], ...(term ? [['parted', [`--partition-by=${term}`]]] : [])];
  return ndjsonText(records.map((r) => toJson(r, ascii)), variants, dir, log);
}

// ---------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------

/**
 * For hunting: runs `runs` cases without stopping or shrinking at a failure, and prints
 * each failure with the path that replays it. Resolves to whether any failed.
 */
async function keepGoing(mode, arb, property) {
  let any = false;
  // fc.sample with the seed gives the cases that fc.check's paths 0, 1, 2 … replay.
  for (const [i, input] of fc.sample(arb, { seed, numRuns: runs }).entries()) {
    try {
      await property(input);
    } catch (e) {
      if (fc.PreconditionFailure.isFailure(e)) continue;
      any = true;
      console.log(`\nFAIL ${mode} case ${i} (replay: --mode ${mode} --seed ${seed} --path ${i} --no-shrink)\n${e.message}`);
    }
  }
  return any;
}

const modes = { dexie: [database, dexieCase], ndjson: [ndjson, ndjsonCase] };
const chosen = opt.mode === 'both' ? Object.keys(modes) : [opt.mode];
if (!chosen.every((m) => m in modes)) throw new Error(`unknown mode '${opt.mode}'`);
console.log(`roundtrip: seed ${seed}, ${runs} cases per mode (${chosen.join(', ')}), ` +
  `excluded classes: ${[...exclude].join(', ') || 'none'}, idbsync ${opt.idbsync}`);

let failed = false;
for (const mode of chosen) {
  const [arb, caseFn] = modes[mode];
  const started = Date.now();
  const before = { ...stats };
  const property = async (input) => {
    stats.cases++;
    await runCase((dir, log) => caseFn(input, dir, log), false);
  };
  let result;
  if (opt['keep-going']) {
    failed = (await keepGoing(mode, arb, property)) || failed;
  } else {
    // At most 200 shrink steps (a minute or two with a debug binary).
    const prop = fc.asyncProperty(fc.limitShrink(arb, 200), property);
    result = await fc.check(prop, { seed, numRuns: runs, path: opt.path, endOnFailure: opt['no-shrink'] });
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const unexportable = stats.unexportable - before.unexportable;
  const unimportable = stats.unimportable - before.unimportable;
  console.log(`${mode}: ${stats.cases - before.cases - unexportable - unimportable} cases ` +
    `(${unexportable} more skipped: exportDB failed; ${unimportable}: importDB failed on the export), ` +
    `${stats.tables - before.tables} tables, ` +
    `${stats.records - before.records} records compared, ${stats.rejected - before.rejected} rejected, ` +
    `${stats.refused - before.refused} partition terms refused, ` +
    `${stats.skipped - before.skipped} downloads skipped (partitioned-all-rejected), ${secs} s`);
  if (!result?.failed) continue;
  failed = true;
  // Run the shrunk counterexample again, keeping its files.
  const replay = `node roundtrip.mjs --idbsync ${quote(opt.idbsync)} --mode ${mode} --seed ${result.seed} ` +
    `--path ${quote(result.counterexamplePath)} --runs ${runs}${exclude.size ? ` --exclude ${[...exclude].join(',')}` : ''}`;
  console.log(`\nFAIL ${mode} (seed ${result.seed}, path ${result.counterexamplePath}, shrunk ${result.numShrinks} times)`);
  try {
    const [dir] = await runCase((d, log) => caseFn(result.counterexample[0], d, log), true);
    console.log(`the shrunk case passed when run again (flaky?): ${dir}`);
  } catch (e) {
    console.log(e.message);
  }
  console.log(`\nreplay: ${replay}`);
}
if (opt.verbose || failed) {
  for (const [reason, { n, example }] of [...stats.reasons].sort((a, b) => b[1].n - a[1].n)) {
    console.log(`  rejected ${n}× ${reason}, e.g. ${opt.verbose ? example : example.slice(0, 300)}`);
  }
}
process.exitCode = failed ? 1 : 0;
