// Node 20 set-up for the tests (a copy of testdata/exporter/env.mjs: the same globals).
// Import this module FIRST: ES modules are evaluated in import order, and both
// Dexie (which reads globalThis.indexedDB when it loads) and dexie-export-import
// (which reads `self` when it loads) need the globals below to exist already.

import 'fake-indexeddb/auto'; // sets globalThis.indexedDB, IDBKeyRange, ... (in-memory, fresh per process)

// dexie-export-import evaluates `'FileReaderSync' in self` at load time; Node has no `self`.
if (typeof globalThis.self === 'undefined') globalThis.self = globalThis;

// dexie-export-import reads Blob contents with `new FileReader().readAsArrayBuffer(blob)`
// (exportDB, to base64 the `blob2` data; importDB, to read the export file in chunks).
// Node 20 has Blob but no FileReader. This shim implements only that one method, on top
// of Blob.prototype.arrayBuffer(), so the exported bytes are exactly the Blob's bytes.
if (typeof globalThis.FileReader === 'undefined') {
  globalThis.FileReader = class FileReader {
    constructor() {
      this.readyState = 0;
      this.result = null;
      this.error = null;
      this.onload = this.onerror = this.onabort = this.onloadend = null;
      this._listeners = {};
    }
    addEventListener(type, fn) {
      (this._listeners[type] ??= []).push(fn);
    }
    _fire(type) {
      const ev = { type, target: this };
      this['on' + type]?.(ev);
      for (const fn of this._listeners[type] ?? []) fn(ev);
    }
    readAsArrayBuffer(blob) {
      this.readyState = 1;
      blob.arrayBuffer().then(
        (buf) => { this.result = buf; this.readyState = 2; this._fire('load'); this._fire('loadend'); },
        (err) => { this.error = err; this.readyState = 2; this._fire('error'); this._fire('loadend'); },
      );
    }
  };
}
