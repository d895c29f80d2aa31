// Runs inside headless Chromium (page.html loads Dexie and dexie-export-import first).
// fill() writes a database with values of every kind a web app stores; exportDb() exports
// it with dexie-export-import; check(name, text) imports an idbsync download into a fresh
// database with stock importInto and compares every record with the original, strictly.

/* global Dexie */

const DB = 'browsershop';
const SCHEMA = {
  orders: '++id, created, status, *tags', // inbound, auto-increment
  blobs: '', // out-of-line keys
  settings: 'key', // inbound string key
};

const utc = (...a) => new Date(Date.UTC(...a));
const ramp = (n, s = 0) => Uint8Array.from({ length: n }, (_, i) => (s + i * 31) & 0xff);

function orders() {
  const out = [];
  for (let i = 0; i < 40; i++) {
    const o = {
      created: utc(2024, 2, 1 + (i % 9), i % 24, (i * 7) % 60, 0, i),
      status: ['paid', 'shipped', 'cancelled'][i % 3],
      tags: i % 4 === 0 ? [] : ['a', 'b', 'c'].slice(0, i % 3 + 1),
      total: Math.round(i * 1234.5) / 100,
      items: [{ sku: `SKU-${i}`, qty: i % 5 + 1, price: i + 0.25 }],
      shipping: { city: ['Berlin', 'Köln', 'Zürich ✓'][i % 3], at: utc(2024, 3, 1 + (i % 20)) },
    };
    if (i % 5 === 0) o.note = null; // null on some, absent on others
    if (i % 7 === 0) o.gift = undefined; // undefined, kept as such
    if (i % 6 === 0) o.coupon = `C${i}`;
    out.push(o);
  }
  return out;
}

function blobs() {
  return [
    [1, { name: 'png', file: new Blob([Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0, 1, 2)], { type: 'image/png' }) }],
    [2, { name: 'text', file: new Blob(['héllo ✓ wörld\n'], { type: 'text/plain' }), buf: ramp(33).buffer }],
    [3, { name: 'typed', u8: ramp(9), i16: Int16Array.of(-32768, 0, 32767), f64: Float64Array.of(Math.PI, NaN, -Infinity) }],
    [4, { name: 'collections', map: new Map([['a', 1], ['b', 2]]), set: new Set(['x', 'y']), big: 2n ** 64n + 1n, small: 42n }],
    [5, { name: 'numbers', nan: NaN, inf: Infinity, ninf: -Infinity, when: new Date(0), re: /ab+c/gi }],
    ['k6', { name: 'string key', empty: new Blob([]), emptyBuf: new ArrayBuffer(0) }],
  ];
}

function settings() {
  return [
    { key: 'theme', value: 'dark', updated: utc(2024, 0, 1) },
    { key: 'limits', value: { max: 10, min: -1 }, updated: utc(2024, 0, 2) },
    { key: 'flags', value: [true, false, null], updated: null },
  ];
}

function open(name) {
  const db = new Dexie(name);
  db.version(3).stores(SCHEMA);
  return db;
}

async function fill() {
  await Dexie.delete(DB);
  const db = open(DB);
  await db.orders.bulkAdd(orders());
  const b = blobs();
  await db.blobs.bulkAdd(b.map((x) => x[1]), b.map((x) => x[0]));
  await db.settings.bulkAdd(settings());
  const counts = {};
  for (const t of db.tables) counts[t.name] = await t.count();
  db.close();
  return counts;
}

async function exportDb() {
  const db = open(DB);
  await db.open();
  const blob = await db.export({ prettyJson: false });
  db.close();
  return await blob.text();
}

// ---- strict comparison, async because Blobs are read ----------------------------------

async function diff(a, b, path, out) {
  if (out.length > 20) return;
  const ta = Object.prototype.toString.call(a);
  const tb = Object.prototype.toString.call(b);
  if (ta !== tb) return void out.push(`${path}: ${ta} vs ${tb}`);
  if (typeof a === 'number') {
    if (!Object.is(a, b)) out.push(`${path}: ${a} vs ${b}`);
    return;
  }
  if (a === null || a === undefined || typeof a !== 'object') {
    if (a !== b) out.push(`${path}: ${String(a)} vs ${String(b)}`);
    return;
  }
  if (a instanceof Date) {
    if (!Object.is(a.getTime(), b.getTime())) out.push(`${path}: ${a.toISOString()} vs ${b.toISOString?.()}`);
    return;
  }
  if (a instanceof RegExp) {
    if (a.source !== b.source || a.flags !== b.flags) out.push(`${path}: ${a} vs ${b}`);
    return;
  }
  if (a instanceof Blob) {
    if (a.type !== b.type) out.push(`${path}.type: ${a.type} vs ${b.type}`);
    return diff(new Uint8Array(await a.arrayBuffer()), new Uint8Array(await b.arrayBuffer()), `${path}.bytes`, out);
  }
  if (a instanceof ArrayBuffer) return diff(new Uint8Array(a), new Uint8Array(b), path, out);
  if (ArrayBuffer.isView(a)) {
    if (a.length !== b.length) return void out.push(`${path}: length ${a.length} vs ${b.length}`);
    for (let i = 0; i < a.length; i++) await diff(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  if (a instanceof Map) {
    const ka = [...a.keys()];
    const kb = [...b.keys()];
    await diff(ka, kb, `${path}.keys`, out);
    for (const k of ka) await diff(a.get(k), b.get(k), `${path}.get(${String(k)})`, out);
    return;
  }
  if (a instanceof Set) return diff([...a], [...b], `${path}.values`, out);
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join('\u0000') !== kb.join('\u0000') && ka.slice().sort().join('\u0000') !== kb.slice().sort().join('\u0000')) {
    out.push(`${path}: keys [${ka}] vs [${kb}]`);
  }
  for (const k of ka) {
    if (!(k in b)) continue;
    await diff(a[k], b[k], `${path}.${k}`, out);
  }
}

async function rows(table) {
  const keys = await table.toCollection().primaryKeys();
  const values = await table.toArray();
  return keys.map((k, i) => [k, values[i]]);
}

// Imports one table's download into a fresh database and compares it with the original.
async function check(tableName, text) {
  const copy = `${DB}-copy-${tableName}`;
  await Dexie.delete(copy);
  const target = open(copy);
  await target.open();
  await target.import(new Blob([text], { type: 'application/json' }), {
    acceptNameDiff: true,
    acceptVersionDiff: true,
    acceptChangedPrimaryKey: false,
    overwriteValues: false,
  });
  const original = open(DB);
  await original.open();
  const want = await rows(original.table(tableName));
  const got = await rows(target.table(tableName));
  const problems = [];
  if (want.length !== got.length) problems.push(`${tableName}: ${got.length} rows imported, ${want.length} exported`);
  const byKey = new Map(got.map(([k, v]) => [JSON.stringify(k), v]));
  for (const [k, v] of want) {
    const key = JSON.stringify(k);
    if (!byKey.has(key)) {
      problems.push(`${tableName}[${key}]: missing after import`);
      continue;
    }
    await diff(v, byKey.get(key), `${tableName}[${key}]`, problems);
  }
  original.close();
  target.close();
  return { rows: got.length, problems };
}

window.idbsync = { fill, exportDb, check, tables: Object.keys(SCHEMA) };
window.idbsyncReady = true;
