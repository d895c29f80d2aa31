// The download round trip, with the real tools: for each pair ORIGINAL=DOWNLOAD given on
// the command line (an export made by dexie-export-import, and what `idbsync download
// --format dexie` wrote for one of its tables after `idbsync convert`), the original is
// imported with the stock importDB and the download with the stock importInto, each into
// a fresh fake-indexeddb database, and every record and key of the table must be
// util.isDeepStrictEqual (Blobs compared by type and bytes, invalid Dates as a marker).
// The download's header must carry the original's database version, the table's Dexie
// schema string and the right rowCount, and the file must be ASCII-only.
//
// Run: node check-download.mjs ORIGINAL=DOWNLOAD...   (exit code 1 on any mismatch)

import './env.mjs'; // must come first: globals for Dexie and dexie-export-import
import { readFile } from 'node:fs/promises';
import { diffEntries, entries, headerChecks, importDownload, importOriginal } from './compare.mjs';

let passed = 0;
let failed = 0;

function check(label, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}`);
  if (!ok && detail) console.log(detail);
}

const pairs = process.argv.slice(2).map((arg) => {
  const at = arg.indexOf('=');
  if (at < 0) throw new Error(`expected ORIGINAL=DOWNLOAD, got ${arg}`);
  return [arg.slice(0, at), arg.slice(at + 1)];
});
if (pairs.length === 0) {
  console.error('usage: node check-download.mjs ORIGINAL=DOWNLOAD...');
  process.exit(2);
}

const originals = new Map(); // file → {header, db}
for (const [origFile, downFile] of pairs) {
  if (!originals.has(origFile)) {
    const text = await readFile(origFile, 'utf8');
    originals.set(origFile, { header: JSON.parse(text).data, db: await importOriginal(text) });
  }
  const { header, db: origDb } = originals.get(origFile);

  const bytes = await readFile(downFile);
  const { table, checks } = headerChecks(header, bytes);
  for (const { label, ok, detail } of checks) check(`${downFile}: ${label}`, ok, detail);
  if (checks.some((c) => !c.ok)) continue;

  const db = await importDownload(header, bytes.toString('utf8'));
  const expected = await entries(origDb, table);
  const problems = await diffEntries(expected, await entries(db, table));
  passed += Math.max(expected.length - problems.length, 0);
  for (const p of problems) check(`${downFile}: ${p}`, false);
  db.close();
}
for (const { db } of originals.values()) db.close();

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
