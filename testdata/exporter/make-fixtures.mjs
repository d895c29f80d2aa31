// Writes idbsync's small export fixtures into ../fixtures/ with the real exporters:
// dexie-export-import (exportDB) and indexeddb-export-import (exportToJsonString),
// over fake-indexeddb in Node 20. Run: npm install && npm run fixtures
//
// Deterministic: every value comes from records.mjs (fixed dates, seeded PRNG), and
// dexie-export-import writes no timestamps, so two runs give byte-identical files.

import './env.mjs'; // must come first: globals for Dexie and dexie-export-import
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Dexie from 'dexie';
import { exportDB } from 'dexie-export-import';
import idbExportImport from 'indexeddb-export-import';
import * as R from './records.mjs';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

async function openFresh(name, version, schema) {
  await Dexie.delete(name);
  const db = new Dexie(name);
  db.version(version).stores(schema);
  await db.open();
  return db;
}

async function write(file, text) {
  await writeFile(join(OUT, file), text);
  console.log(`wrote ${file} (${Buffer.byteLength(text)} bytes)`);
}

async function dexieExport(db) {
  const blob = await exportDB(db, { prettyJson: false });
  return blob.text();
}

async function makeAlltags() {
  const db = await openFresh(R.ALLTAGS_NAME, R.ALLTAGS_VERSION, R.ALLTAGS_SCHEMA);
  await db.transaction('rw', db.things, db.kv, db.pairs, async () => {
    for (const row of R.thingsRows()) await db.things.add(row);
    for (const [key, value] of R.kvEntries()) await db.kv.add(value, key);
    for (const row of R.pairsRows()) await db.pairs.add(row);
  });
  await write('dexie-alltags.json', await dexieExport(db));
  db.close();
}

async function makeShop() {
  const db = await openFresh(R.SHOP_NAME, R.SHOP_VERSION, R.SHOP_SCHEMA);
  await db.transaction('rw', db.orders, db.customers, async () => {
    for (const row of R.ordersRows()) await db.orders.add(row);
    for (const row of R.customersRows()) await db.customers.add(row);
  });
  await write('dexie-shop.json', await dexieExport(db));

  // indexeddb-export-import on the raw IDBDatabase: the plain {store: [records]} form.
  const plain = await idbExportImport.exportToJsonString(db.backendDB());
  await write('plain-shop.json', plain);

  // NDJSON and a JSON array of the orders as stored (with their generated ids);
  // JSON.stringify turns Dates into ISO-8601 strings.
  const orders = await db.orders.toArray();
  await write('orders.ndjson', orders.map((o) => JSON.stringify(o) + '\n').join(''));
  await write('orders-array.json', JSON.stringify(orders));
  db.close();
}

async function makeFidelity() {
  const db = await openFresh(R.FIDELITY_NAME, R.FIDELITY_VERSION, R.FIDELITY_SCHEMA);
  await db.transaction('rw', db.settings, db.notes, db.collide, db.blank, async () => {
    for (const row of R.settingsRows()) await db.settings.add(row);
    for (const row of R.notesRows()) await db.notes.add(row);
    for (const row of R.collideRows()) await db.collide.add(row);
    for (const [key, value] of R.blankEntries()) await db.blank.add(value, key);
  });
  await write('dexie-fidelity.json', await dexieExport(db));
  db.close();
}

await mkdir(OUT, { recursive: true });
await makeAlltags();
await makeShop();
await makeFidelity();
