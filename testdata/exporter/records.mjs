// The one definition of the fixture databases: make-fixtures.mjs writes them,
// check-import.mjs compares what a stock importDB restores against them.
//
// Every builder returns fresh objects on each call (Dexie writes generated keys back
// into the objects it adds), and uses fixed values only: no Date.now(), no Math.random().

const utc = (...args) => new Date(Date.UTC(...args));

/** Bytes 0..n-1 as a Uint8Array (deterministic binary content). */
const ramp = (n, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i * 37) & 0xff);

// ---------------------------------------------------------------------------------------
// Database "alltags", version 3: one of every typeson tag dexie-export-import 4.x emits
// for values that Node 20's structuredClone (used by fake-indexeddb) can store.
// ---------------------------------------------------------------------------------------

export const ALLTAGS_NAME = 'alltags';
export const ALLTAGS_VERSION = 3;
export const ALLTAGS_SCHEMA = {
  things: '++id, name, [first+last], *tags', // inbound, auto-increment
  kv: '', // out-of-line keys, no key path
  pairs: '[first+last], age', // inbound compound primary key
};

/** Rows of `things`, without `id` (auto-incremented from 1 in this order). */
export function thingsRows() {
  // `opt` is a string, absent, null, or undefined depending on the row.
  const rows = [];

  // 1. dates, nested paths, keys that need ~0 / ~1 escaping in $types key paths
  rows.push({
    name: 'dates',
    first: 'Ada',
    last: 'Lovelace',
    tags: ['math', 'history'],
    created: utc(2024, 2, 1, 12, 0, 0),
    invalid: new Date(NaN),
    epoch: new Date(0),
    beforeEpoch: utc(1969, 6, 20, 20, 17, 40, 123),
    nested: { when: utc(2023, 11, 31, 23, 59, 59, 999), label: 'new year eve', deeper: { at: utc(2000, 0, 1) } },
    weird: { 'a.b': 1, 'c~d': new Date(0), 'e~1.f': utc(2001, 0, 1) },
    'x.y~z': new Date(86400000),
    dateList: [utc(2024, 0, 1), utc(2024, 0, 2)],
    opt: 'present',
  });

  // 2. binary: Blobs (typed, utf-8 text, empty), ArrayBuffer, DataView
  const dvBuf = ramp(8, 100).buffer;
  rows.push({
    name: 'binary',
    first: 'Grace',
    last: 'Hopper',
    tags: ['binary'],
    blob: new Blob([ramp(40)], { type: 'application/octet-stream' }),
    textBlob: new Blob(['héllo wörld ✓\n'], { type: 'text/plain;charset=utf-8' }),
    emptyBlob: new Blob([]),
    nested: { when: utc(2024, 5, 15, 8, 30), pic: new Blob([Uint8Array.of(0x89, 0x50, 0x4e, 0x47)], { type: 'image/png' }) },
    buf: Uint8Array.of(0, 1, 2, 127, 128, 254, 255).buffer,
    emptyBuf: new ArrayBuffer(0),
    view: new DataView(dvBuf, 2, 4), // byteOffset/byteLength into an 8-byte buffer
    opt: null,
  });

  // 3. every typed array the exporter has a tag for
  const shared = ramp(16, 3).buffer;
  rows.push({
    name: 'typed',
    tags: ['typed', 'binary'],
    i8: Int8Array.of(-128, -1, 0, 1, 127),
    u8: Uint8Array.of(0, 1, 255),
    u8c: Uint8ClampedArray.of(0, 128, 255),
    i16: Int16Array.of(-32768, 0, 32767),
    u16: Uint16Array.of(0, 65535),
    i32: Int32Array.of(-2147483648, 0, 2147483647),
    u32: Uint32Array.of(0, 4294967295),
    f32: Float32Array.of(1.5, -0.25, 3.4028234663852886e38),
    f64: Float64Array.of(Math.PI, -1e-300, 1.7976931348623157e308),
    f64Special: Float64Array.of(NaN, Infinity, -Infinity),
    emptyU8: new Uint8Array(0),
    // a view at a byte offset into a larger buffer
    window: new Uint8Array(ramp(10, 50).buffer, 4, 3),
    // two views over ONE buffer: the second refers to the first buffer with a "#" cyclic reference
    sharedA: new Uint16Array(shared, 0, 4),
    sharedB: new Uint8Array(shared, 8, 8),
    opt: undefined,
  });

  // 4. collections: Map (string keys, number keys, with tagged values), Set, sparse / odd arrays
  const extra = [1, 2];
  extra.extra = 'x';
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  sparse[6] = 'end'; // more holes at 3..5
  const common = { shared: true, n: 7 };
  rows.push({
    name: 'collections',
    first: 'Alan',
    last: 'Turing',
    tags: ['collections'],
    mapStr: new Map([['a', 1], ['b', 2], ['c', 3]]),
    mapNum: new Map([[1, 'one'], [2, 'two'], [10, 'ten']]),
    mapDates: new Map([['start', utc(2024, 0, 1)], ['end', utc(2024, 11, 31)]]),
    emptyMap: new Map(),
    set: new Set(['x', 'y', 'z']),
    setNum: new Set([3, 1, 2]),
    emptySet: new Set(),
    sparse,
    extra,
    arrUndef: [undefined, 1, undefined], // undefined that IS an own element (not a hole)
    nestedArr: [[1, 2], [], [utc(2020, 1, 29)]],
    emptyArr: [],
    // the same object twice in one record: structured clone keeps the identity, typeson writes "#"
    sameA: common,
    sameB: common,
  });

  // 5. numbers that JSON cannot hold, BigInt, RegExp, boxed primitives
  rows.push({
    name: 'numbers',
    first: 'Ada',
    last: 'Byron',
    tags: ['numbers', 'math'],
    nan: NaN,
    inf: Infinity,
    ninf: -Infinity,
    maxSafe: Number.MAX_SAFE_INTEGER,
    float: 0.1,
    bigSmall: 42n,
    bigNeg: -7n,
    bigHuge: 2n ** 64n + 1n, // > 2^63
    bigHugeNeg: -(2n ** 70n),
    bigBoxed: Object(10n),
    re: /ab+c/gi,
    re2: /^x\d+$/muy,
    reEmpty: new RegExp(''),
    str: new String('s'),
    num: new Number(3),
    bool: new Boolean(true), // new Boolean(false) is in the exporter-losses row
    nums: [1, NaN, Infinity, -Infinity, 2.5],
    opt: 'here too',
  });

  // 6. undefined property values, and a property (`opt`) that is absent
  rows.push({
    name: 'undefs',
    first: 'Edsger',
    last: 'Dijkstra',
    tags: [],
    undef: undefined,
    nested: { when: undefined, label: 'no date' },
    nullish: null,
  });

  // 7. a sparse record: no first/last/tags, no opt, a date nested in an array of objects
  rows.push({
    name: 'sparse-record',
    events: [
      { kind: 'start', at: utc(2024, 3, 1, 9) },
      { kind: 'stop', at: utc(2024, 3, 1, 17), extra: { note: 'late' } },
    ],
  });

  // 8. same shapes again with other kinds: a drift for idbsync's lattice
  rows.push({
    name: 'drift',
    first: 'Barbara',
    last: 'Liskov',
    tags: ['drift'],
    created: 'not a date', // a string where row 1 has a Date
    nan: 5, // a number where row 5 has NaN
    bigSmall: 1, // a plain number where row 5 has a BigInt
    blob: null,
    opt: null,
  });

  // 9. values the stock exporter does not round-trip (see exporterLosses below)
  const lossy = { name: 'exporter-losses' };
  for (const loss of exporterLosses()) lossy[loss.field] = loss.stored;
  rows.push(lossy);

  return rows;
}

/**
 * Values that dexie-export-import 4.4.0 (its bundled typeson-registry) exports wrongly, in
 * a browser just as in Node. `stored` is what the app put into IndexedDB; `restored` is what
 * a stock importDB gives back from the export. check-import.mjs expects `restored` and also
 * asserts that it differs from `stored` (so a fixed exporter is noticed).
 */
export function exporterLosses() {
  return [
    {
      field: 'boolFalse',
      stored: new Boolean(false),
      restored: new Boolean(true),
      why: 'BooleanObject replace is Boolean(obj), and every object is truthy: exported as true',
    },
    {
      field: 'negZero',
      stored: -0,
      restored: 0,
      why: 'no typeson tag for -0; JSON.stringify(-0) is "0"',
    },
    {
      field: 'reDotAll',
      stored: /a.b/s,
      restored: /a.b/,
      why: 'regexp replace rebuilds flags from g,i,m,y,u only: s (and d, v) are dropped',
    },
    {
      field: 'i64',
      stored: BigInt64Array.of(1n, -2n),
      restored: { 0: 1n, 1: -2n },
      why: 'no tag for BigInt64Array: exported as a plain object of index keys with bigint tags',
    },
    {
      field: 'u64',
      stored: BigUint64Array.of(2n ** 64n - 1n),
      restored: { 0: 2n ** 64n - 1n },
      why: 'no tag for BigUint64Array: exported as a plain object of index keys with bigint tags',
    },
  ];
}

/** [key, value] entries of the out-of-line table `kv`, in IndexedDB key order
 * (numbers < Dates < strings < binary < arrays). */
export function kvEntries() {
  return [
    [-10, 42],
    [1, 'plain string value'],
    [2.5, { when: utc(2024, 1, 29, 12), n: 1 }],
    [utc(2024, 0, 1), { kind: 'dated', tags: new Set(['a', 'b']) }],
    ['alpha', utc(2020, 1, 29)], // the whole value is a Date
    ['beta', null],
    ['big', 12345678901234567890n],
    ['blob', new Blob(['kv blob'], { type: 'text/plain' })],
    ['gamma', 'another string'],
    ['map', new Map([['k', utc(1999, 11, 31)]])],
    ['undef', undefined], // the whole value is undefined
    [Uint8Array.of(1, 2, 3).buffer, { binaryKey: true }],
    [['compound', 1], { arr: [1, 2, 3] }],
    [['compound', utc(2024, 0, 1)], [utc(2024, 0, 2), 'x']],
  ];
}

/** Rows of `pairs` (primary key [first+last]), in key order. */
export function pairsRows() {
  return [
    { first: 'Ada', last: 'Lovelace', age: 36, born: utc(1815, 11, 10) },
    { first: 'Alan', last: 'Turing', age: 41, born: utc(1912, 5, 23), award: null },
    { first: 'Grace', last: 'Hopper', age: 85, born: utc(1906, 11, 9), ranks: new Set(['Rear Admiral']) },
    { first: 'Grace', last: 'Murray', age: 19 },
  ];
}

// ---------------------------------------------------------------------------------------
// Database "shop", version 1: ordinary application data, the shape of a real export.
// ---------------------------------------------------------------------------------------

export const SHOP_NAME = 'shop';
export const SHOP_VERSION = 1;
export const SHOP_SCHEMA = {
  orders: '++id, customerId, created, *tags',
  customers: 'id, email',
};

/** Deterministic PRNG (mulberry32) with a fixed seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CITIES = [
  ['Berlin', '10115'], ['Hamburg', '20095'], ['München', '80331'], ['Köln', '50667'],
  ['Leipzig', '04109'], ['Dresden', '01067'], ['Bremen', '28195'],
];
const METHODS = ['standard', 'express', 'pickup'];
const TAGS = ['gift', 'sale', 'bulk', 'priority', 'returning', 'new'];
const NAMES = ['Ana', 'Ben', 'Chloé', 'Dmitri', 'Eva', 'Farid', 'Greta', 'Hiro', 'Ines', 'Jonas'];

/** Rows of `customers`, ids 1..10. */
export function customersRows() {
  return NAMES.map((name, i) => ({
    id: i + 1,
    email: `${name.toLowerCase().replace('é', 'e')}@example.com`,
    name,
    joined: utc(2022, i, 1 + i, 10, 0, 0),
    vip: i % 4 === 0,
  }));
}

/** Rows of `orders`, without `id` (auto-incremented from 1 in this order). */
export function ordersRows() {
  const rnd = prng(20240301);
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const base = Date.UTC(2024, 2, 1, 0, 0, 0);
  const rows = [];
  for (let i = 0; i < 50; i++) {
    const nItems = 1 + Math.floor(rnd() * 3);
    const items = [];
    for (let j = 0; j < nItems; j++) {
      items.push({
        sku: `SKU-${String(100 + Math.floor(rnd() * 40)).padStart(4, '0')}`,
        qty: 1 + Math.floor(rnd() * 5),
        price: Math.round(rnd() * 10000) / 100, // e.g. 12.34 (a float; some happen to be integral)
      });
    }
    const [city, zip] = pick(CITIES);
    const tags = TAGS.filter(() => rnd() < 0.25);
    const order = {
      customerId: 1 + (i * 7) % 10,
      created: new Date(base + i * 3_600_000 * 13 + Math.floor(rnd() * 3_600_000)),
      status: i % 9 === 8 ? 'cancelled' : i % 3 === 0 ? 'shipped' : 'paid',
      items,
      shipping: { city, zip, method: pick(METHODS) },
      tags,
      total: Math.round(items.reduce((s, it) => s + it.qty * it.price, 0) * 100) / 100,
    };
    // `note`: a string in most rows, a number in one (type drift), absent in the rest
    if (i === 17) order.note = 42;
    else if (i % 5 !== 4) order.note = `order ${i + 1}`;
    // optional fields
    if (i % 4 === 1) order.giftMessage = 'Happy birthday!';
    if (i % 7 === 3) order.discount = 0.1 * (1 + (i % 3));
    if (i % 10 === 6) order.couponCode = null;
    if (i % 6 === 2) order.deliveredAt = new Date(base + i * 3_600_000 * 13 + 3 * 86_400_000);
    rows.push(order);
  }
  return rows;
}

// --- dexie-fidelity.json: values real apps store that once came back wrong (issue 14) ------

export const FIDELITY_NAME = 'fidelity';
export const FIDELITY_VERSION = 1;
export const FIDELITY_SCHEMA = {
  settings: 'id', // fields that only ever hold empty objects
  notes: '++id', // strings cut in the middle of a surrogate pair
  collide: 'id', // fields named like idbsync's own columns
  blank: '', // out-of-line keys, empty records
};

export function settingsRows() {
  return [
    { id: 'a', prefs: {}, meta: { tags: {} } },
    { id: 'b', prefs: {}, meta: { tags: {} } },
  ];
}

export function notesRows() {
  const emoji = 'half emoji \u{1F600}';
  return [
    { text: emoji.slice(0, emoji.length - 1) }, // ends in a lone high surrogate
    { text: 'whole \u{1F600}' },
    { text: '\udc00 low first', also: ['\ud800', 'x\udfff\ud800y'] },
    { text: 'line \u2028 and paragraph \u2029 separators' },
  ];
}

export function collideRows() {
  return [
    { id: 1, __key: 'k' },
    { id: 2, __idb_nulls: 'n' },
    { id: 3, __value: 5, nested: { __key: 'inner' } },
  ];
}

/** [key, value] pairs of the out-of-line table: empty records. */
export function blankEntries() {
  return [
    ['x', {}],
    ['y', {}],
  ];
}
