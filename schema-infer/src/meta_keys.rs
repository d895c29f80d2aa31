//! The metadata keys idbsync writes and reads, in one place. Inference puts them on the
//! Arrow schema it gives (store keys on the schema, column keys on the fields); the
//! engine copies them into the Parquet key-value metadata and reads them back to
//! download a store as its exporter wrote it. They are part of the on-disk format:
//! a value here changes what every written dataset says.

// Keys of a store's schema.

/// Schema metadata key: the object store's name.
pub const META_STORE: &str = "idb.store";
/// Schema metadata key: the input's format (`dexie`, `stores`, `ndjson`, `json-array`).
pub const META_FORMAT: &str = "idb.format";
/// Schema metadata key: the IndexedDB database's name, from a Dexie export's header.
pub const META_DATABASE: &str = "idb.database";
/// Schema metadata key: the database version, from a Dexie export's header.
pub const META_VERSION: &str = "idb.version";
/// Schema metadata key: the table's Dexie schema string as the export declares it
/// (`++id,name,[first+last],*tags`).
pub const META_DEXIE_SCHEMA: &str = "idb.dexie_schema";
/// Schema metadata key: the primary key's path parsed from the Dexie schema, as a JSON
/// array (`["id"]`; the parts of a compound key, `["first","last"]`; `[]` for
/// out-of-line keys).
pub const META_KEY_PATH: &str = "idb.key_path";
/// Schema metadata key: whether the primary key is auto-incremented (`true`/`false`).
pub const META_AUTO_INCREMENT: &str = "idb.auto_increment";
/// Schema metadata key: the secondary indexes of the Dexie schema as written, as a JSON
/// array (`["name","[first+last]","*tags"]`).
pub const META_INDEXES: &str = "idb.indexes";
/// Schema metadata key: whether the rows carry their keys (a Dexie export's `inbound`,
/// `true`/`false`).
pub const META_INBOUND: &str = "idb.inbound";
/// Schema metadata key: present (with the column's name, `__value`) when the store's
/// values are kept whole in one column because they are not all objects.
pub const META_VALUE_COLUMN: &str = "idb.value_column";
/// Schema metadata key: present (with the column's name, `__idb_nulls`) when the store
/// has the side column that says which kind of "no value" a record had.
pub const META_NULLS_COLUMN: &str = "idb.nulls_column";

// Keys of a column's field.

/// Field metadata key: the typeson tag the column's values carried.
pub const META_TAG: &str = "idb.tag";
/// Field metadata key: the kinds of "no value" seen (`absent,null,undefined,hole`).
pub const META_NULLS: &str = "idb.nulls";
/// Field metadata key: `string` when values of conflicting types are kept as their
/// text in a Utf8 column (`--on-conflict string`).
pub const META_CONFLICT: &str = "idb.conflict";
/// Field metadata key: `iso8601` when a timestamp column was read from ISO-8601
/// strings rather than from typeson-tagged Dates.
pub const META_SOURCE: &str = "idb.source";

// Keys of a Parquet file.

/// Parquet key-value metadata key: every column's typeson tag as one JSON object, keyed
/// by the field's path with typeson's keypath escapes (`{"created":"date",…}`).
pub const META_FIELD_TAGS: &str = "idb.field_tags";

// Arrow's own keys.

/// Arrow's extension-name metadata key.
pub const EXTENSION_NAME: &str = "ARROW:extension:name";
/// Arrow's extension-metadata key.
pub const EXTENSION_METADATA: &str = "ARROW:extension:metadata";
/// The canonical JSON extension type name (a value of [`EXTENSION_NAME`]).
pub const JSON_EXTENSION: &str = "arrow.json";
