// Checks the fixtures in ../fixtures/ against records.mjs, the one definition of their data:
// each dexie-*.json is imported with the stock importDB (dexie-export-import) into a fresh
// fake-indexeddb and every record must be util.isDeepStrictEqual to what make-fixtures.mjs
// put in. The plain/NDJSON/array shop fixtures must equal the JSON form of the same data.
// Run: npm run check   (exit code 1 on any mismatch)

import './env.mjs'; // must come first: globals for Dexie and dexie-export-import
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect, isDeepStrictEqual } from 'node:util';
import Dexie from 'dexie';
import { importDB } from 'dexie-export-import';
import * as R from './records.mjs';
import { normalize } from './normalize.mjs';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
let passed = 0;
let failed = 0;

function check(label, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}`);
  if (!ok && detail) console.log(detail);
}

async function compareRecords(label, actual, expected) {
  check(`${label}: ${expected.length} records`, actual.length === expected.length,
    `  got ${actual.length}`);
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = await normalize(actual[i]);
    const e = await normalize(expected[i]);
    if (!isDeepStrictEqual(a, e)) {
      check(`${label}[${i}]`, false,
        `  actual:   ${inspect(a, { depth: 6 })}\n  expected: ${inspect(e, { depth: 6 })}`);
    } else {
      passed++;
    }
  }
}

const withIds = (rows) => rows.map((row, i) => ({ ...row, id: i + 1 }));

function expectedThings() {
  const rows = R.thingsRows();
  const lossy = rows.find((r) => r.name === 'exporter-losses');
  for (const loss of R.exporterLosses()) lossy[loss.field] = loss.restored;
  return withIds(rows);
}

async function importFixture(file) {
  const text = await readFile(join(FIXTURES, file), 'utf8');
  const name = JSON.parse(text).data.databaseName;
  await Dexie.delete(name);
  return importDB(new Blob([text]));
}

async function inbound(db, table) {
  return db.table(table).toArray();
}

async function outbound(db, table) {
  const keys = await db.table(table).toCollection().primaryKeys();
  const values = await db.table(table).toArray();
  return keys.map((k, i) => [k, values[i]]);
}

// --- dexie-alltags.json -------------------------------------------------------------------
{
  const db = await importFixture('dexie-alltags.json');
  check('alltags: version', db.verno === R.ALLTAGS_VERSION, `  got ${db.verno}`);
  for (const [table, spec] of Object.entries(R.ALLTAGS_SCHEMA)) {
    const got = db.table(table).schema;
    const src = [got.primKey, ...got.indexes].map((ix) => ix.src).join(',');
    check(`alltags.${table}: schema`, src === spec.replace(/\s+/g, ''), `  got '${src}'`);
  }
  const things = await inbound(db, 'things');
  // identity that the "#" references carry must survive too
  const coll = things.find((r) => r.name === 'collections');
  check('alltags.things: "#" reference restores one shared object', coll.sameA === coll.sameB);
  const typed = things.find((r) => r.name === 'typed');
  check('alltags.things: "#" reference restores one shared ArrayBuffer',
    typed.sharedA.buffer === typed.sharedB.buffer);
  // the exporter's known losses must still be losses (else update records.mjs)
  const storedLossy = R.thingsRows().find((r) => r.name === 'exporter-losses');
  const gotLossy = things.find((r) => r.name === 'exporter-losses');
  for (const loss of R.exporterLosses()) {
    check(`alltags.things: known exporter loss still happens: ${loss.field} (${loss.why})`,
      !isDeepStrictEqual(gotLossy[loss.field], storedLossy[loss.field]));
  }
  await compareRecords('alltags.things', things, expectedThings());
  await compareRecords('alltags.kv', await outbound(db, 'kv'), R.kvEntries());
  await compareRecords('alltags.pairs', await inbound(db, 'pairs'), R.pairsRows());
  db.close();
}

// --- dexie-shop.json ------------------------------------------------------------------------
{
  const db = await importFixture('dexie-shop.json');
  check('shop: version', db.verno === R.SHOP_VERSION, `  got ${db.verno}`);
  await compareRecords('shop.orders', await inbound(db, 'orders'), withIds(R.ordersRows()));
  await compareRecords('shop.customers', await inbound(db, 'customers'), R.customersRows());
  db.close();
}

// --- dexie-fidelity.json -----------------------------------------------------------------
{
  const db = await importFixture('dexie-fidelity.json');
  check('fidelity: version', db.verno === R.FIDELITY_VERSION, `  got ${db.verno}`);
  await compareRecords('fidelity.settings', await inbound(db, 'settings'), R.settingsRows());
  await compareRecords('fidelity.notes', await inbound(db, 'notes'), withIds(R.notesRows()));
  await compareRecords('fidelity.collide', await inbound(db, 'collide'), R.collideRows());
  await compareRecords('fidelity.blank', await outbound(db, 'blank'), R.blankEntries());
  db.close();
}

// --- plain-shop.json, orders.ndjson, orders-array.json: the JSON form of the same data ------
{
  const json = (v) => JSON.parse(JSON.stringify(v));
  const orders = json(withIds(R.ordersRows()));
  const plain = JSON.parse(await readFile(join(FIXTURES, 'plain-shop.json'), 'utf8'));
  await compareRecords('plain-shop.orders', plain.orders, orders);
  await compareRecords('plain-shop.customers', plain.customers, json(R.customersRows()));
  const ndjson = (await readFile(join(FIXTURES, 'orders.ndjson'), 'utf8'))
    .split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  await compareRecords('orders.ndjson', ndjson, orders);
  const array = JSON.parse(await readFile(join(FIXTURES, 'orders-array.json'), 'utf8'));
  await compareRecords('orders-array.json', array, orders);
}

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
