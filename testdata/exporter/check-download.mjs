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
import { inspect, isDeepStrictEqual } from 'node:util';
import Dexie from 'dexie';
import { importDB, importInto } from 'dexie-export-import';
import { normalize } from './normalize.mjs';

let passed = 0;
let failed = 0;
let fresh = 0;

function check(label, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}`);
  if (!ok && detail) console.log(detail);
}

/** [primaryKey, value] of every record, in key order. */
async function entries(db, table) {
  const keys = await db.table(table).toCollection().primaryKeys();
  const values = await db.table(table).toArray();
  return keys.map((k, i) => [k, values[i]]);
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
    const header = JSON.parse(text).data;
    const db = await importDB(new Blob([text]), { name: `original-${++fresh}` });
    originals.set(origFile, { header, db });
  }
  const { header: orig, db: origDb } = originals.get(origFile);

  const bytes = await readFile(downFile);
  const label = downFile;
  check(`${label}: ASCII only`, bytes.every((b) => b < 0x80));
  const text = bytes.toString('utf8');
  const down = JSON.parse(text).data;
  check(`${label}: one table`, down.tables.length === 1 && down.data.length === 1, `  got ${down.tables.length}`);
  const table = down.tables[0].name;
  const origTable = orig.tables.find((t) => t.name === table);
  check(`${label}: table '${table}' is in ${origFile}`, origTable !== undefined);
  if (!origTable) continue;
  check(`${label}: database name`, down.databaseName === orig.databaseName, `  got ${down.databaseName}`);
  check(`${label}: database version`, down.databaseVersion === orig.databaseVersion, `  got ${down.databaseVersion}`);
  check(`${label}: schema string`, down.tables[0].schema === origTable.schema, `  got '${down.tables[0].schema}'`);
  check(`${label}: rowCount ${down.tables[0].rowCount} = rows`, down.tables[0].rowCount === down.data[0].rows.length
    && down.tables[0].rowCount === origTable.rowCount, `  rows ${down.data[0].rows.length}, original ${origTable.rowCount}`);
  const inbound = orig.data.find((d) => d.tableName === table).inbound;
  check(`${label}: inbound`, down.data[0].inbound === inbound, `  got ${down.data[0].inbound}`);

  // Stock importInto, into a database declared as the original one is.
  const db = new Dexie(`download-${++fresh}`);
  db.version(orig.databaseVersion).stores(Object.fromEntries(orig.tables.map((t) => [t.name, t.schema])));
  await db.open();
  await importInto(db, new Blob([text]), { acceptNameDiff: true });

  const expected = await entries(origDb, table);
  const actual = await entries(db, table);
  check(`${label}: ${expected.length} records`, actual.length === expected.length, `  got ${actual.length}`);
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = await normalize(actual[i]);
    const e = await normalize(expected[i]);
    if (isDeepStrictEqual(a, e)) {
      passed++;
    } else {
      check(`${label}: record ${i}`, false,
        `  actual:   ${inspect(a, { depth: 8 })}\n  expected: ${inspect(e, { depth: 8 })}`);
    }
  }
  db.close();
}
for (const { db } of originals.values()) db.close();

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
