// IndexedDB keys: an exact identity for sets of keys, and the typeson form in which
// dexie-export-import's exportDB writes a key (for the tombstones a push adds to an
// export). dexie-export-import does not export its typeson instance, so the few types a
// key can have are encoded here; test/keys.test.mjs checks them against exportDB itself.

import Dexie from 'dexie';

const tag = (v) => Object.prototype.toString.call(v).slice(8, -1);
const isBinary = (v) => tag(v) === 'ArrayBuffer' || ArrayBuffer.isView(v);

/**
 * The key as IndexedDB gives it back: binary keys as ArrayBuffer (a typed array or
 * DataView passed to `delete` is compared by its bytes), arrays element by element.
 */
export function normalizeKey(k) {
  if (Array.isArray(k)) return k.map(normalizeKey);
  if (ArrayBuffer.isView(k)) return k.buffer.slice(k.byteOffset, k.byteOffset + k.byteLength);
  return k;
}

/** A string that is equal for two keys exactly when IndexedDB finds them equal. */
export function keyId(k) {
  if (typeof k === 'number') return `n${Object.is(k, -0) ? 0 : k}`;
  if (typeof k === 'string') return `s${JSON.stringify(k)}`;
  if (Array.isArray(k)) return `[${k.map(keyId).join(',')}]`;
  if (tag(k) === 'Date') return `d${k.getTime()}`;
  if (isBinary(k)) {
    const b = ArrayBuffer.isView(k) ? new Uint8Array(k.buffer, k.byteOffset, k.byteLength) : new Uint8Array(k);
    return `b${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
  }
  throw new TypeError(`not an IndexedDB key: ${String(k)}`);
}

function base64(buf) {
  const b = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * The JSON value of key `k` at typeson path `path`, adding its tags to `types` as
 * exportDB's typeson does: Dates as epoch ms ('date'), ±Infinity as strings
 * ('infinity', 'negativeInfinity'), binary as base64 ('arraybuffer'), and every array
 * tagged 'arrayNonindexKeys'.
 */
function encodeKey(k, path, types) {
  const at = (p) => (path === '' ? p : `${path}.${p}`);
  if (typeof k === 'number') {
    if (k === Infinity) types[path] = 'infinity';
    if (k === -Infinity) types[path] = 'negativeInfinity';
    return Number.isFinite(k) ? k : String(k);
  }
  if (typeof k === 'string') return k;
  if (Array.isArray(k)) {
    types[path] = 'arrayNonindexKeys';
    return k.map((x, i) => encodeKey(x, at(String(i)), types));
  }
  if (tag(k) === 'Date') {
    types[path] = 'date';
    return k.getTime();
  }
  if (isBinary(k)) {
    types[path] = 'arraybuffer';
    return base64(normalizeKey(k));
  }
  throw new TypeError(`not an IndexedDB key: ${String(k)}`);
}

/**
 * The export row that deletes `key` from a table with primary key path `keyPath`
 * (Dexie's `table.schema.primKey.keyPath`: a string, an array for compound keys, or
 * null for out-of-line keys), typeson-encoded as exportDB writes rows:
 * `{<key fields>, _deleted: true}`, or `[key, {_deleted: true}]` out of line.
 */
export function tombstoneRow(keyPath, key) {
  const types = {};
  if (keyPath == null) {
    const row = [encodeKey(key, '0', types), { _deleted: true }];
    // exportDB encapsulates an out-of-line row (an array) as {$: row, $types: {$: …}}.
    return { $: row, $types: { $: { '': 'arrayNonindexKeys', ...types } } };
  }
  const paths = Array.isArray(keyPath) ? keyPath : [keyPath];
  const parts = Array.isArray(keyPath) ? key : [key];
  const row = {};
  paths.forEach((p, i) => Dexie.setByKeyPath(row, p, encodeKey(parts[i], p, types)));
  row._deleted = true;
  if (Object.keys(types).length) row.$types = types;
  return row;
}
