// Stand-ins for the two things util.isDeepStrictEqual cannot compare, shared by
// check-import.mjs and check-download.mjs.

/**
 * isDeepStrictEqual cannot compare two things we store: Blobs (it sees no own properties,
 * so any two Blobs are "equal") and invalid Dates (NaN !== NaN). Replace both, in place,
 * with plain stand-ins that carry their content. Everything else (holes, extra array keys,
 * undefined vs absent, boxed primitives, typed arrays, Map/Set order) is left untouched.
 */
export async function normalize(v) {
  if (v instanceof Blob) {
    return { $blob: v.constructor.name, type: v.type, bytes: new Uint8Array(await v.arrayBuffer()) };
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? { $invalidDate: true } : v;
  if (v instanceof Map) {
    const entries = [...v];
    v.clear();
    for (const [k, x] of entries) v.set(await normalize(k), await normalize(x));
    return v;
  }
  if (v instanceof Set) {
    const members = [...v];
    v.clear();
    for (const x of members) v.add(await normalize(x));
    return v;
  }
  if (Array.isArray(v) || (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)) {
    for (const k of Object.keys(v)) v[k] = await normalize(v[k]);
  }
  return v;
}
