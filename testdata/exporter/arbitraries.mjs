// fast-check arbitraries for roundtrip.mjs: random IndexedDB databases (Dexie schemas,
// keys of every IndexedDB key type, records of every structured-clone type that
// dexie-export-import carries) and random NDJSON records.
//
// `arbitraries(exclude)` leaves out the failure classes named in `exclude` (a Set of
// CLASSES names), so that a run can hunt for other bugs while those are being fixed.
// `partitionTerm` chooses the partition term of a case.

import fc from 'fast-check';

/**
 * Failure classes found by this generator (roundtrip.mjs) and replayed by findings.mjs
 * (findings/findings.json gives each one's minimal input and status). `--exclude CLASS,...`
 * leaves a class out, as narrowly as its shape allows, so that a run still explores the
 * rest; `--exclude open` leaves out those of the open findings.
 */
export const CLASSES = {
  'map-key-map': { finding: 'N1', about: 'a Map with a key that is a Map holding an array (at any depth)' },
  'map-mixed-keys': { finding: 'N2', about: 'Map keys at one path holding a Date and a key of another type' },
  'date-partition-range': { finding: 'N3', about: 'identity partition on a Date column with a value before year 0 or after 9999' },
  'nested-partition': { finding: 'N4', about: 'identity partition on a struct or list column, or on a field named __idb_nulls' },
  'empty-string-partition': { finding: 'N5', about: "identity partition on a string column holding '' and also null, undefined or nothing" },
  'partitioned-all-rejected': { finding: 'N6', about: 'the download of a partitioned store whose every record was rejected (not downloaded)' },
  'empty-name': { finding: 'N7', about: "a property named '' whose value is, or holds, a tagged value or an array" },
  'map-value-holes': { finding: 'N8', about: 'inside a Map value: an array with a hole, or objects at one path with different members' },
  'nan-numberobject-nulls': { finding: 'N9', about: 'a store holding a NumberObject that is not finite (new Number(NaN), its export is null)' },
  'key-field-with-tag': { finding: 'N10', about: 'an inbound record with a top-level field named __key and a tagged value (a $types entry)' },
  'neg-zero': { finding: 'N11', about: 'NDJSON: the number -0 (written -0, -0.0)' },
  'inf-literal': { finding: 'N12', about: 'NDJSON: a number literal out of the double range (1e400: Infinity to JSON.parse)' },
  'types-member': { finding: 'N13', about: 'NDJSON: a top-level member named $types' },
  'one-line-dump': { finding: 'N14', about: 'NDJSON: a one-record file whose record holds only arrays' },
  'partition-only-column': { finding: 'N15', about: "identity partition on a column that is a store's only top-level field (records with a lone-surrogate field name, rejected, not counted)" },
  'reject-reason': { finding: 'N16', about: "the check that no reject says 'not in the schema' (a record that failed inference)" },
  'binary-partition': { finding: 'N20', about: 'identity partition on a binary column (ArrayBuffer keys in `__key`): refused, partition by bucket(N, col)' },
  'own-column-partition': { finding: 'N17', about: "identity partition on `__value`: in a store whose records idbsync keeps whole, that is idbsync's own column" },
  'types-field': { finding: 'N18', about: 'an inbound store with a record holding a top-level field $types and a record holding a tagged value' },
  'boxed-surrogate-nulls': { finding: 'N19', about: 'a store holding a String object with a lone surrogate (at any depth)' },
};

/** Marks a field left out of a record (as opposed to null or undefined). */
const ABSENT = Symbol('absent');

/** A number literal written as it is into NDJSON (JSON.parse gives its value). */
export class RawNumber {
  constructor(text) {
    this.text = text;
  }
}

const EDGE_NUMBERS = [
  -0, 0, 1, -1, 0.1, 1.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, 2 ** 53 + 2,
  2 ** 63, -(2 ** 63), 2 ** 64, 1e21, 1e-7, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE,
  -Number.MIN_VALUE, 2.2250738585072014e-308, NaN, Infinity, -Infinity,
];
// Literals whose text is not what JSON.stringify writes for their value.
const RAW_NUMBERS = [
  '-0', '-0.0', '0.0', '1E2', '1e+2', '1.0', '100e-2', '0.1e1', '9007199254740993', '18446744073709551616',
  '-9223372036854775809', '123456789012345678901234567890', '1e400', '-1e400', '1e-400', '2.5e-324',
  '1.7976931348623158e308', '1.7976931348623159e308', '4.9406564584124654e-324',
];
const EDGE_DATES = [0, -1, 1, 8.64e15, -8.64e15, 253402300799999, -62167219200000, NaN];
const EDGE_BIGINTS = [
  0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, 2n ** 64n, 10n ** 38n - 1n, -(10n ** 38n) + 1n, 10n ** 38n,
  -(10n ** 38n), 2n ** 200n,
];
const TYPED = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
];
const BLOB_TYPES = ['', 'text/plain', 'application/octet-stream', 'image/png', 'text/plain;charset=utf-8', 'TEXT/HTML', 'x/ünï'];
const REGEXP_SOURCES = ['a', 'a+b', '^x$', '\\d{2,3}', '[\\u0000-\\u001f]', 'ünï', '\\/', '(?:)', '.', '\\uD83D', '"\\\\'];

// Names that collide with idbsync's own columns and encodings, Dexie's export format,
// Hive directory names and JavaScript's special keys, and names that differ only in case
// or Unicode normalization. (Not `__proto__`: the stock exportDB / importDB pair itself
// garbles records that hold it, so such cases would say nothing about idbsync.)
const COLLIDING_NAMES = [
  '__key', '__value', '__idb_nulls', '$types', '$', 'a.b', '.', '..', '~', '~0', '~1', 'a~1b', '', '0', 'length',
  'constructor', 'x y', 'day', 'a/b', '%2F', '=', '__HIVE_DEFAULT_PARTITION__', 'A', 'é', 'e\u0301',
];
const COMMON_NAMES = ['a', 'b', 'c', 'name', 'tags', 'when', 'id', 'value', 'key'];
// Key paths and indexes must be valid in a Dexie schema string (no `,`, `+`, `[`, `.` …).
const KEY_NAMES = ['id', 'key', 'k', '_id', 'uid', 'ünï', '$', '__key', '__value', '__idb_nulls'];
const INDEX_NAMES = ['a', 'b', 'name', 'when', '*tags', '[a+b]', 'c.d'];
const STORE_NAMES = [
  'things', 'kv', 'orders', 'Orders', '_private', '.hidden', '..', 'a b', 'x/y', 'ünï', '日本', 'day=1', '%2F',
  '__HIVE_DEFAULT_PARTITION__', 'a.b',
];
const DB_NAMES = ['rt', 'ünï db', 'a/b', '..', 'x y'];

const isPlainObject = (v) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/** An object with these own properties, ABSENT ones left out (defined, not assigned, so
 * that no name can reach a setter such as `__proto__`'s). */
function objectOf(entries) {
  const o = {};
  for (const [k, v] of entries) {
    if (v !== ABSENT) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return o;
}

/**
 * Walks a structured-clone value: `visit(v, path, inMapValue)` for it and everything in it
 * (object members, array elements and extra keys, Map keys `{k}` and values `{}`, Set
 * members `[]`). `inMapValue`: inside the value of a Map.
 */
function walk(v, visit, path = '', inMapValue = false) {
  visit(v, path, inMapValue);
  if (v instanceof Map) {
    v.forEach((x, k) => {
      walk(k, visit, `${path}{k}`, inMapValue);
      walk(x, visit, `${path}{}`, true);
    });
  } else if (v instanceof Set) v.forEach((x) => walk(x, visit, `${path}[]`, inMapValue));
  else if (Array.isArray(v)) {
    for (const k of Object.keys(v)) walk(v[k], visit, /^\d+$/.test(k) ? `${path}[]` : `${path}.${JSON.stringify(k)}`, inMapValue);
  } else if (isPlainObject(v)) {
    for (const k of Object.keys(v)) walk(v[k], visit, `${path}.${JSON.stringify(k)}`, inMapValue);
  }
}

/** A value dexie-export-import writes without a `$types` entry: JSON (no -0, no arrays:
 * every array has its `arrayNonindexKeys` tag). */
const untagged = (v) => v === null || typeof v === 'string' || typeof v === 'boolean'
  || (typeof v === 'number' && Number.isFinite(v)) || (isPlainObject(v) && Object.values(v).every(untagged));

const keyKind = (k) => (k instanceof Date ? 'date' : typeof k === 'object' ? Object.prototype.toString.call(k) : typeof k);

/** The classes (of those in `exclude`) that a store's record values fall in, as far as
 * they are visible in the values themselves. `inbound`: the records of an inbound store
 * (their keys in them), whose exported rows carry their own `$types`. */
export function storeClasses(values, exclude, inbound = false) {
  const found = new Set();
  const mapKeyKinds = new Map(); // path of Map keys → Set of kinds
  const mapValueMembers = new Map(); // path of an object inside a Map value → Set of member lists
  for (const record of values) {
    walk(record, (v, path, inMapValue) => {
      if (v instanceof Map) {
        for (const k of v.keys()) {
          mapKeyKinds.set(path, (mapKeyKinds.get(path) ?? new Set()).add(keyKind(k)));
          if (k instanceof Map) walk(k, (x) => { if (Array.isArray(x)) found.add('map-key-map'); });
        }
      }
      if (inMapValue && Array.isArray(v) && Object.keys(v).filter((k) => /^\d+$/.test(k)).length < v.length) found.add('map-value-holes');
      if (inMapValue && isPlainObject(v)) {
        mapValueMembers.set(path, (mapValueMembers.get(path) ?? new Set()).add(JSON.stringify(Object.keys(v).sort())));
      }
      if (v instanceof Number && !Number.isFinite(v.valueOf())) found.add('nan-numberobject-nulls');
      if (v instanceof String && !v.valueOf().isWellFormed()) found.add('boxed-surrogate-nulls');
      if ((isPlainObject(v) || Array.isArray(v)) && Object.hasOwn(v, '') && !untagged(v[''])) found.add('empty-name');
      if (inbound && path === '' && isPlainObject(v) && Object.hasOwn(v, '__key') && !untagged(v)) found.add('key-field-with-tag');
    });
  }
  if (inbound && values.some((r) => isPlainObject(r) && Object.hasOwn(r, '$types')) && values.some((r) => !untagged(r))) found.add('types-field');
  for (const kinds of mapKeyKinds.values()) if (kinds.has('date') && kinds.size > 1) found.add('map-mixed-keys');
  for (const lists of mapValueMembers.values()) if (lists.size > 1) found.add('map-value-holes');
  return [...found].filter((c) => exclude.has(c));
}

/** The classes (of those in `exclude`) that NDJSON records fall in. */
export function ndjsonClasses(records, exclude) {
  const found = new Set();
  if (records.some((r) => isPlainObject(r) && Object.hasOwn(r, '$types'))) found.add('types-member');
  if (records.length === 1 && isPlainObject(records[0]) && Object.keys(records[0]).length > 0
    && Object.values(records[0]).every(Array.isArray)) found.add('one-line-dump');
  return [...found].filter((c) => exclude.has(c));
}

/**
 * A --partition-by term for one column whose values all fit one, if any: `stores` holds
 * each store's records; `pick` chooses among the candidates. Terms of the partition classes
 * in `exclude` are left out.
 */
export function partitionTerm(stores, pick, exclude) {
  const kind = (v) => {
    if (v === null || v === undefined) return 'none';
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'none' : 'date';
    if (v instanceof RawNumber) return 'number';
    return ['string', 'number', 'boolean', 'bigint'].includes(typeof v) ? typeof v : 'other';
  };
  const columns = new Map(); // path → {kinds: Set, values: [], n: records holding it}
  const add = (path, v) => {
    const c = columns.get(path) ?? { kinds: new Set(), values: [], n: 0 };
    c.kinds.add(kind(v));
    c.values.push(v);
    c.n++;
    columns.set(path, c);
  };
  const records = stores.flat().filter(isPlainObject);
  for (const r of records) {
    for (const [k, v] of Object.entries(r)) {
      add(k, v);
      if (isPlainObject(v)) for (const [c, x] of Object.entries(v)) add(`${k}.${c}`, x);
    }
  }
  // A term names its column by a path with `.` between names; `(`, `)`, `,` and outer
  // spaces belong to the term's syntax.
  const nameOk = (n) => n.isWellFormed() && /^[^\s.(),\0]+$/.test(n);
  const YEAR_0 = -62167219200000; // 0000-01-01T00:00:00Z
  const YEAR_10000 = 253402300800000; // 10000-01-01T00:00:00Z
  const terms = [];
  for (const [path, { kinds: all, values, n }] of columns) {
    const kinds = new Set([...all].filter((k) => k !== 'none'));
    if (kinds.size !== 1 || !path.split('.').every(nameOk)) continue;
    if (kinds.has('other')) {
      // A struct or list column: idbsync must refuse the term or round trip it.
      const some = values.filter((v) => kind(v) === 'other');
      if (!exclude.has('nested-partition') && (some.every(isPlainObject) || some.every(Array.isArray))) terms.push(path);
      continue;
    }
    const [k] = kinds;
    const identityExcluded = (exclude.has('date-partition-range') && k === 'date'
        && values.some((d) => d instanceof Date && (d.getTime() < YEAR_0 || d.getTime() >= YEAR_10000)))
      || (exclude.has('nested-partition') && path === '__idb_nulls')
      || (exclude.has('own-column-partition') && path === '__value')
      || (exclude.has('empty-string-partition') && k === 'string' && values.includes('') && (all.has('none') || n < records.length))
      || (exclude.has('partition-only-column') && stores.some((rs) => rs.some((r) => isPlainObject(r) && Object.hasOwn(r, path))
        && rs.every((r) => !isPlainObject(r) || Object.keys(r).every((f) => f === path) || Object.keys(r).some((f) => !f.isWellFormed()))));
    if (!identityExcluded) terms.push(path);
    if (k === 'date') terms.push(...['year', 'month', 'day', 'hour'].map((t) => `${t}(${path})`));
    if (k === 'string' || k === 'bigint' || k === 'number') terms.push(`bucket(3, ${path})`);
  }
  return terms.length ? terms[pick % terms.length] : undefined;
}

/** The arbitraries: `database` (dexie mode) and `ndjson` (ndjson mode), without the
 * classes in the Set `exclude`. */
export function arbitraries(exclude) {
  // Strings: chunks of every kind of UTF-16 content.
  const chunk = [
    fc.string({ unit: 'grapheme-ascii', maxLength: 5 }),
    fc.constantFrom('"', '\\', '/', '\u2028', '\u2029', '\ufeff', '\ufffd', '\ufffe', '\uffff', '\u0000', '\x7f', '\u0085', 'é', 'e\u0301', '%', '~1', '.', '='),
    fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
    fc.oneof(fc.integer({ min: 0x80, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0xffff })).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  ];
  const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  const string = fc.array(fc.oneof(...chunk, loneSurrogate), { maxLength: 5 })
    .map((parts) => parts.join(''));
  // CLI arguments (store names for --table) cannot hold lone surrogates nor NUL.
  const argument = string.filter((s) => s.isWellFormed() && s !== '' && !s.includes('\0'));

  const name = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...COMMON_NAMES) },
    { weight: 3, arbitrary: fc.constantFrom(...COLLIDING_NAMES) },
    { weight: 1, arbitrary: string },
  );
  // Extra (non-index) keys of arrays: not an array index, not `length`, not `__proto__`.
  const extraName = fc.oneof(fc.constantFrom('extra', '-1', '1.5', '4294967295', '$types', '__key', ''), string)
    .filter((k) => k !== 'length' && k !== '__proto__' && !(/^(0|[1-9]\d*)$/.test(k) && Number(k) < 2 ** 32 - 1));

  const finite = fc.oneof(
    fc.constantFrom(...EDGE_NUMBERS.filter(Number.isFinite)),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
  );
  const number = fc.oneof(finite, fc.constantFrom(NaN, Infinity, -Infinity), fc.double());
  // Mostly dates that apps store; also any date IndexedDB can hold, and the edges.
  const date = fc.oneof(
    { weight: 3, arbitrary: fc.date({ min: new Date(Date.UTC(1900, 0, 1)), max: new Date(Date.UTC(2100, 0, 1)), noInvalidDate: true }) },
    fc.date({ noInvalidDate: true }),
    fc.constantFrom(...EDGE_DATES).map((t) => new Date(t)),
  );
  const bigint = fc.oneof(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.constantFrom(...EDGE_BIGINTS));
  const bytes = fc.uint8Array({ maxLength: 16 });
  const arrayBuffer = bytes.map((b) => b.slice().buffer);
  // A view at a byte offset into a larger buffer, with room after it too.
  const dataView = fc.tuple(bytes, fc.nat(4), fc.nat(16)).map(([b, off, len]) => {
    const buf = new Uint8Array(off + b.length + 2);
    buf.set(b, off);
    return new DataView(buf.buffer, off, Math.min(len, b.length));
  });
  const typedArrayOf = (T) => fc.tuple(bytes, fc.nat(2)).map(([b, off]) => {
    const size = T.BYTES_PER_ELEMENT;
    const n = Math.floor(b.length / size);
    const buf = new Uint8Array((off + n + (off > 0 ? 1 : 0)) * size);
    buf.set(b.subarray(0, n * size), off * size);
    return new T(buf.buffer, off * size, n);
  });
  const typedArray = fc.constantFrom(...TYPED).chain(typedArrayOf);
  const blob = fc.tuple(bytes, fc.constantFrom(...BLOB_TYPES)).map(([b, type]) => new Blob([b], { type }));
  const regexp = fc.tuple(fc.constantFrom(...REGEXP_SOURCES), fc.subarray(['d', 'g', 'i', 'm', 's', 'u', 'y']))
    .map(([source, flags]) => new RegExp(source, flags.join('')));
  const boxed = fc.oneof(
    number.map((n) => new Number(n)),
    string.map((s) => new String(s)),
    fc.boolean().map((b) => new Boolean(b)),
    bigint.map((b) => Object(b)),
  );

  const leaves = {
    int: fc.integer(),
    safeInt: fc.maxSafeInteger(),
    number,
    string,
    bool: fc.boolean(),
    date,
    bigint,
    blob,
    arraybuffer: arrayBuffer,
    dataview: dataView,
    regexp,
    boxed,
    null: fc.constant(null),
    undefined: fc.constant(undefined),
    ...Object.fromEntries(TYPED.map((T) => [T.name, typedArrayOf(T)])),
  };
  const leaf = fc.oneof(
    number, string, fc.boolean(), fc.constant(null), fc.constant(undefined), date, bigint, blob, arrayBuffer,
    dataView, typedArray, regexp, boxed,
  );

  /** Objects with `name` keys; `minKeys` 1 keeps `{}` out. */
  const object = (value, minKeys = 0) => fc.uniqueArray(fc.tuple(name, value), { selector: (e) => e[0], minLength: minKeys, maxLength: 4 })
    .map(objectOf);

  // Any structured-clone value, nested.
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      { weight: 8, arbitrary: leaf },
      { weight: 3, arbitrary: tie('object') },
      tie('array'), tie('sparse'), tie('extra'), tie('map'), tie('set'),
    ),
    object: object(tie('value')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    sparse: fc.sparseArray(tie('value'), { maxLength: 6, maxNumElements: 3 }),
    extra: fc.tuple(fc.array(tie('value'), { maxLength: 3 }), fc.uniqueArray(fc.tuple(extraName, tie('value')), { selector: (e) => e[0], minLength: 1, maxLength: 2 }))
      .map(([a, extra]) => Object.assign(a, objectOf(extra))),
    map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
    set: fc.array(tie('value'), { maxLength: 3 }).map((m) => new Set(m)),
  }));

  // Shapes: the type of a field held by every record of a store, so that idbsync infers
  // typed columns (structs, lists, maps, timestamps …) rather than JSON text.
  const { shape } = fc.letrec((tie) => ({
    shape: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      { weight: 6, arbitrary: fc.constantFrom(...Object.keys(leaves), 'any') },
      { weight: 2, arbitrary: tie('object') },
      tie('array'), tie('set'), tie('map'),
    ),
    object: fc.uniqueArray(fc.tuple(name, tie('shape')), { selector: (e) => e[0], maxLength: 4 })
      .map((fields) => ({ object: fields })),
    array: tie('shape').map((s) => ({ array: s })),
    set: tie('shape').map((s) => ({ set: s })),
    map: fc.tuple(fc.constantFrom('string', 'int', 'date', 'any'), tie('shape')).map(([k, v]) => ({ map: [k, v] })),
  }));
  /** Values of a shape; fields of objects may also be absent, null or undefined. */
  const valueOf = (s) => {
    if (typeof s === 'string') return s === 'any' ? value : leaves[s];
    if (s.array) return fc.array(valueOf(s.array), { maxLength: 4 });
    if (s.set) return fc.array(valueOf(s.set), { maxLength: 3 }).map((m) => new Set(m));
    if (s.map) return fc.array(fc.tuple(valueOf(s.map[0]), valueOf(s.map[1])), { maxLength: 3 }).map((e) => new Map(e));
    return fc.tuple(...s.object.map(([k, v]) => fc.tuple(fc.constant(k), fc.oneof(
      { weight: 10, arbitrary: valueOf(v) },
      { weight: 1, arbitrary: fc.constantFrom(ABSENT, null, undefined) },
    )))).map(objectOf);
  };

  /** Record values of one store: its fields' shapes, or anything. */
  const values = fc.oneof(
    // random: any fields, any values
    fc.array(object(value), { maxLength: 6 }),
    // uniform: the fields of one shape (which may hold `any`)
    shape.filter((s) => s.object).chain((s) => fc.array(valueOf(s), { maxLength: 6 })),
    // disjoint: no two records share a field
    fc.array(object(value, 1), { maxLength: 5 })
      .map((rs) => rs.map((r, i) => objectOf(Object.entries(r).map(([k, v]) => [`${i}:${k}`, v])))),
    // empty records, and fields that always hold empty objects
    fc.nat(4).map((n) => Array.from({ length: n }, () => ({}))),
    fc.nat(4).map((n) => Array.from({ length: n }, () => ({ prefs: {}, meta: { tags: {} } }))),
  ).filter((vs) => storeClasses(vs, exclude).length === 0);

  // IndexedDB keys: numbers (not NaN), strings, valid Dates, binary, arrays of keys.
  const keyLeaf = {
    number: fc.oneof(finite, fc.constantFrom(Infinity, -Infinity)),
    string,
    date: date.filter((d) => !Number.isNaN(d.getTime())),
    // fake-indexeddb takes an empty buffer for a detached one, which is no key.
    binary: fc.oneof(arrayBuffer, typedArray.filter((t) => !(t instanceof BigInt64Array || t instanceof BigUint64Array)))
      .filter((b) => b.byteLength > 0),
  };
  const { key: anyKey } = fc.letrec((tie) => ({
    key: fc.oneof({ depthSize: 'small', maxDepth: 2 }, { weight: 4, arbitrary: fc.oneof(...Object.values(keyLeaf)) }, tie('array')),
    array: fc.array(tie('key'), { maxLength: 3 }),
  }));
  const keyOfType = fc.constantFrom(...Object.keys(keyLeaf), 'array', 'mixed')
    .map((t) => (t === 'array' ? fc.array(anyKey, { maxLength: 3 }) : keyLeaf[t] ?? anyKey));
  /** `n` distinct keys (as IndexedDB compares them) from `keyArb`. */
  const distinctKeys = (keyArb, n) => fc.uniqueArray(keyArb, { comparator: (a, b) => indexedDB.cmp(a, b) === 0, minLength: n, maxLength: n });

  // Primary keys: inbound `id`, `++id`, compound `[a+b]`, nested `a.b`, out-of-line `` and `++`.
  const keyNames = KEY_NAMES;
  const primary = fc.oneof(
    fc.constantFrom(...keyNames).map((k) => ({ kind: 'inbound', schema: k, path: [k] })),
    fc.constantFrom(...keyNames).map((k) => ({ kind: 'auto', schema: `++${k}`, path: [k] })),
    fc.uniqueArray(fc.constantFrom(...keyNames), { minLength: 2, maxLength: 2 })
      .map(([a, b]) => ({ kind: 'compound', schema: `[${a}+${b}]`, paths: [a, b] })),
    fc.tuple(fc.constantFrom(...keyNames), fc.constantFrom(...keyNames))
      .map(([a, b]) => ({ kind: 'inbound', schema: `${a}.${b}`, path: [a, b] })),
    fc.constant({ kind: 'outbound', schema: '' }),
    fc.constant({ kind: 'outbound-auto', schema: '++' }),
  );

  /** The records of a store: values combined with their keys. */
  const storeRows = (pk, vals) => {
    const withKey = (v, path, key) => {
      const [head, ...rest] = path;
      const inner = rest.length === 0 ? key : withKey(isPlainObject(v?.[head]) ? v[head] : {}, rest, key);
      return objectOf([...Object.entries(isPlainObject(v) ? v : {}).filter(([k]) => k !== head), [head, inner]]);
    };
    switch (pk.kind) {
      case 'outbound': // bare values too: not only objects
        return keyOfType.chain((k) => distinctKeys(k, vals.length))
          .map((keys) => vals.map((v, i) => ({ key: keys[i], value: v })));
      case 'outbound-auto':
        return fc.constant(vals.map((v) => ({ value: v })));
      case 'auto': // the key is generated: a value there would have to be a valid key
        return fc.constant(vals.map((v) => ({ value: objectOf(Object.entries(v).filter(([k]) => k !== pk.path[0])) })));
      case 'compound':
        return fc.tuple(keyOfType, keyOfType).chain(([ka, kb]) => distinctKeys(fc.tuple(ka, kb), vals.length))
          .map((keys) => vals.map((v, i) => ({ value: withKey(withKey(v, [pk.paths[0]], keys[i][0]), [pk.paths[1]], keys[i][1]) })));
      default:
        return keyOfType.chain((k) => distinctKeys(k, vals.length))
          .map((keys) => vals.map((v, i) => ({ value: withKey(v, pk.path, keys[i]) })));
    }
  };

  const store = fc.record({
    name: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...STORE_NAMES) }, argument),
    primary,
    indexes: fc.subarray(INDEX_NAMES, { maxLength: 2 }),
    values,
  }).chain(({ name, primary: pk, indexes, values: vals }) => {
    // An out-of-line store keeps bare values; an inbound one needs objects.
    const objects = pk.kind.startsWith('outbound') ? vals : vals.filter(isPlainObject);
    const taken = new Set(pk.path ?? pk.paths ?? []);
    const schema = [pk.schema, ...indexes.filter((i) => i !== pk.schema && !taken.has(i.replace(/^\*/, '')))].join(',');
    return storeRows(pk, objects).map((rows) => ({ name, schema, rows, inbound: !pk.kind.startsWith('outbound') }));
    // Filtered again with the keys in the records (a key at `__key`, a Date key …); the
    // whole store is drawn again (a filter on the rows alone may never be satisfied).
  }).filter((s) => storeClasses(s.rows.map((r) => r.value), exclude, s.inbound).length === 0);
  const outboundValues = fc.array(value, { maxLength: 4 }).filter((vs) => storeClasses(vs, exclude).length === 0);
  const outboundStore = fc.record({ name: fc.constantFrom(...STORE_NAMES), schema: fc.constantFrom('', '++') }).chain(({ name, schema }) =>
    outboundValues.chain((vals) => storeRows({ kind: schema === '' ? 'outbound' : 'outbound-auto' }, vals)).map((rows) => ({ name, schema, rows })));

  const database = fc.record({
    name: fc.constantFrom(...DB_NAMES),
    version: fc.constantFrom(1, 2, 2.5, 10),
    stores: fc.uniqueArray(fc.oneof({ weight: 3, arbitrary: store }, outboundStore), { selector: (s) => s.name, minLength: 1, maxLength: 3 }),
    pick: fc.nat(), // chooses the partition term among those that fit
  });

  // NDJSON: JSON values only (no undefined, NaN, ±Infinity, Dates, binary …).
  const jsonNumber = fc.oneof({ weight: 4, arbitrary: finite }, fc.constantFrom(...RAW_NUMBERS).map((t) => new RawNumber(t)))
    .filter((n) => {
      const v = n instanceof RawNumber ? JSON.parse(n.text) : n;
      return !(exclude.has('neg-zero') && Object.is(v, -0)) && !(exclude.has('inf-literal') && !Number.isFinite(v));
    });
  const jsonLeaves = { int: fc.integer(), safeInt: fc.maxSafeInteger(), number: jsonNumber, string, bool: fc.boolean(), null: fc.constant(null) };
  const { json } = fc.letrec((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', maxDepth: 5 },
      { weight: 6, arbitrary: fc.oneof(...Object.values(jsonLeaves)) },
      { weight: 2, arbitrary: tie('object') },
      tie('array'),
    ),
    object: object(tie('json')),
    array: fc.array(tie('json'), { maxLength: 4 }),
  }));
  const { jsonShape } = fc.letrec((tie) => ({
    jsonShape: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      { weight: 5, arbitrary: fc.constantFrom(...Object.keys(jsonLeaves), 'json') },
      { weight: 2, arbitrary: tie('object') },
      tie('array'),
    ),
    object: fc.uniqueArray(fc.tuple(name, tie('jsonShape')), { selector: (e) => e[0], maxLength: 4 })
      .map((fields) => ({ object: fields })),
    array: tie('jsonShape').map((s) => ({ array: s })),
  }));
  const jsonOf = (s) => {
    if (typeof s === 'string') return s === 'json' ? json : jsonLeaves[s];
    if (s.array) return fc.array(jsonOf(s.array), { maxLength: 4 });
    return fc.tuple(...s.object.map(([k, v]) => fc.tuple(fc.constant(k), fc.oneof(
      { weight: 10, arbitrary: jsonOf(v) },
      { weight: 1, arbitrary: fc.constantFrom(ABSENT, null) },
    )))).map(objectOf);
  };
  const ndjson = fc.record({
    records: fc.oneof(
      fc.array(object(json), { minLength: 1, maxLength: 8 }),
      jsonShape.filter((s) => s.object).chain((s) => fc.array(jsonOf(s), { minLength: 1, maxLength: 8 })),
      fc.array(object(json, 1), { minLength: 1, maxLength: 5 })
        .map((rs) => rs.map((r, i) => objectOf(Object.entries(r).map(([k, v]) => [`${i}:${k}`, v])))),
      fc.integer({ min: 1, max: 4 }).map((n) => Array.from({ length: n }, () => ({}))),
      fc.integer({ min: 1, max: 4 }).map((n) => Array.from({ length: n }, () => ({ prefs: {}, meta: { tags: {} } }))),
    ).filter((rs) => ndjsonClasses(rs, exclude).length === 0),
    // How strings are escaped: as JSON.stringify does, or every non-ASCII unit as \uXXXX.
    ascii: fc.boolean(),
    pick: fc.nat(),
  });

  return { database, ndjson };
}
