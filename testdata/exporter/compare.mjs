// Imports with the stock importers and compares tables, shared by check-download.mjs and
// roundtrip.mjs: an export is imported with importDB, a download with importInto into a
// database declared as the original one, and records and keys are compared with
// util.isDeepStrictEqual after normalize() (Blobs by type and bytes, invalid Dates as a
// marker). Import env.mjs before this module.

import { inspect, isDeepStrictEqual } from 'node:util';
import Dexie from 'dexie';
import { importDB, importInto } from 'dexie-export-import';
import { normalize } from './normalize.mjs';

let fresh = 0; // every import goes into a database of its own

/** [primaryKey, value] of every record of `table`, in key order. */
export async function entries(db, table) {
  const keys = await db.table(table).toCollection().primaryKeys();
  const values = await db.table(table).toArray();
  return keys.map((k, i) => [k, values[i]]);
}

/** Imports an export's text with the stock importDB into a fresh database. */
export async function importOriginal(text) {
  return importDB(new Blob([text]), { name: `original-${++fresh}` });
}

/** Imports a download's text with the stock importInto into a fresh database declared as
 * `header` (the `data` object of the original export) declares its tables. */
export async function importDownload(header, text) {
  const db = new Dexie(`download-${++fresh}`);
  db.version(header.databaseVersion).stores(Object.fromEntries(header.tables.map((t) => [t.name, t.schema])));
  await db.open();
  await importInto(db, new Blob([text]), { acceptNameDiff: true });
  return db;
}

/**
 * Checks the header of a one-table download (`bytes`) against the original export's
 * `header`: ASCII-only, one table that the original has, database name and version,
 * schema string, inbound flag, and a rowCount equal to its rows and to `expectedRows`
 * (the original's rowCount unless some records were rejected). Returns the table name
 * and a list of {label, ok, detail}.
 */
export function headerChecks(header, bytes, expectedRows) {
  const checks = [];
  const check = (label, ok, detail) => checks.push({ label, ok, detail });
  check('ASCII only', bytes.every((b) => b < 0x80));
  const down = JSON.parse(bytes.toString('utf8')).data;
  check('one table', down.tables.length === 1 && down.data.length === 1, `  got ${down.tables.length}`);
  const table = down.tables[0].name;
  const origTable = header.tables.find((t) => t.name === table);
  check(`table '${table}' is in the original`, origTable !== undefined);
  if (!origTable) return { table, checks };
  expectedRows ??= origTable.rowCount;
  check('database name', down.databaseName === header.databaseName, `  got ${down.databaseName}`);
  check('database version', down.databaseVersion === header.databaseVersion, `  got ${down.databaseVersion}`);
  check('schema string', down.tables[0].schema === origTable.schema, `  got '${down.tables[0].schema}'`);
  check(`rowCount ${down.tables[0].rowCount} = rows`, down.tables[0].rowCount === down.data[0].rows.length
    && down.tables[0].rowCount === expectedRows, `  rows ${down.data[0].rows.length}, expected ${expectedRows}`);
  const inbound = header.data.find((d) => d.tableName === table).inbound;
  check('inbound', down.data[0].inbound === inbound, `  got ${down.data[0].inbound}`);
  return { table, checks };
}

/** The innermost place where `a` and `e` differ, as [path, actual, expected]. */
export function firstDifference(a, e, path = '') {
  const kind = (v) => (Array.isArray(v) ? 'array' : v instanceof Map ? 'map' : v instanceof Set ? 'set'
    : v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype ? 'object' : 'other');
  const k = kind(a);
  if (k !== 'other' && k === kind(e)) {
    // Maps and Sets in insertion order: enough to point at a difference.
    const parts = (v) => (k === 'map' || k === 'set' ? [...v.entries()].map((x, i) => [i, x]) : Object.keys(v).map((x) => [x, v[x]]));
    const [pa, pe] = [new Map(parts(a)), new Map(parts(e))];
    for (const key of new Set([...pa.keys(), ...pe.keys()])) {
      if (!pa.has(key) || !pe.has(key)) return [`${path}[${JSON.stringify(key)}]`, pa.has(key) ? pa.get(key) : '(absent)', pe.has(key) ? pe.get(key) : '(absent)'];
      if (!isDeepStrictEqual(pa.get(key), pe.get(key))) return firstDifference(pa.get(key), pe.get(key), `${path}[${JSON.stringify(key)}]`);
    }
  }
  return [path || '(the value)', a, e];
}

/** Compares two lists of [key, value] entries; returns one message per differing entry
 * (empty when equal). Normalizes both in place. */
export async function diffEntries(expected, actual) {
  const problems = [];
  if (actual.length !== expected.length) problems.push(`${actual.length} records, expected ${expected.length}`);
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = await normalize(actual[i]);
    const e = await normalize(expected[i]);
    if (!isDeepStrictEqual(a, e)) {
      const [at, x, y] = firstDifference(a, e);
      problems.push(`record ${i} differs at ${at}: ${inspect(x, { depth: 3 })}, expected ${inspect(y, { depth: 3 })}` +
        `\n  actual:   ${inspect(a, { depth: 8 })}\n  expected: ${inspect(e, { depth: 8 })}`);
    }
  }
  return problems;
}
