//! Hive-style partitioning: `col`, `year(col)`, `month(col)`, `day(col)`,
//! `hour(col)` and `bucket(N, col)` on top-level or nested (`shipping.city`)
//! columns; directory names escaped as Spark escapes them.

use crate::error::{Error, Result};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StructArray};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use std::fmt;
use std::str::FromStr;

/// The directory name Hive, Spark and DuckDB read as a null partition value.
pub const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// A transform applied to a column to get its partition value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// The value itself.
    Identity,
    /// `YYYY` of a timestamp (UTC).
    Year,
    /// `YYYY-MM`.
    Month,
    /// `YYYY-MM-DD`.
    Day,
    /// `YYYY-MM-DD-HH`.
    Hour,
    /// Iceberg's bucket: `(murmur3_32(value) & i32::MAX) % n`.
    Bucket(u32),
}

/// One `--partition-by` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionField {
    /// Column path (`created`, `shipping.city`).
    pub path: Vec<String>,
    /// The transform.
    pub transform: Transform,
}

impl PartitionField {
    /// The directory key: the transform's name (`day`), or the column path with
    /// `_` for dots for identity partitions (`shipping_city`).
    pub fn key(&self) -> String {
        match self.transform {
            Transform::Identity => self.path.join("_"),
            Transform::Year => "year".into(),
            Transform::Month => "month".into(),
            Transform::Day => "day".into(),
            Transform::Hour => "hour".into(),
            Transform::Bucket(_) => "bucket".into(),
        }
    }

    /// Whether the column itself is left out of the data files (identity
    /// partitions on top-level columns, as Hive and Spark expect).
    pub fn drops_column(&self) -> bool {
        self.transform == Transform::Identity && self.path.len() == 1
    }
}

impl fmt::Display for PartitionField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.join(".");
        match self.transform {
            Transform::Identity => write!(f, "{p}"),
            Transform::Year => write!(f, "year({p})"),
            Transform::Month => write!(f, "month({p})"),
            Transform::Day => write!(f, "day({p})"),
            Transform::Hour => write!(f, "hour({p})"),
            Transform::Bucket(n) => write!(f, "bucket({n}, {p})"),
        }
    }
}

impl FromStr for PartitionField {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (transform, inner) = match s.find('(') {
            None => (Transform::Identity, s),
            Some(i) => {
                let name = s[..i].trim();
                let inner = s[i + 1..].strip_suffix(')').ok_or_else(|| format!("missing ')' in '{s}'"))?;
                match name {
                    "year" => (Transform::Year, inner),
                    "month" => (Transform::Month, inner),
                    "day" => (Transform::Day, inner),
                    "hour" => (Transform::Hour, inner),
                    "bucket" => {
                        let (n, col) = inner.split_once(',').ok_or_else(|| format!("bucket needs (N, col): '{s}'"))?;
                        let n: u32 = n.trim().parse().map_err(|_| format!("bucket count must be a number: '{s}'"))?;
                        if n == 0 {
                            return Err("bucket count must be at least 1".into());
                        }
                        (Transform::Bucket(n), col)
                    }
                    other => {
                        return Err(format!("unknown partition transform '{other}' (year, month, day, hour, bucket)"))
                    }
                }
            }
        };
        let path: Vec<String> = inner.trim().split('.').map(|p| p.trim().to_owned()).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("empty column name in '{s}'"));
        }
        Ok(PartitionField { path, transform })
    }
}

/// Whether `schema` has a column at `path` (walking into structs).
pub fn has_path(schema: &arrow_schema::Schema, path: &[String]) -> bool {
    let Ok(mut f) = schema.field_with_name(&path[0]) else { return false };
    for p in &path[1..] {
        match f.data_type() {
            DataType::Struct(fields) => match fields.iter().find(|c| c.name() == p) {
                Some(c) => f = c,
                None => return false,
            },
            _ => return false,
        }
    }
    true
}

/// Why the column at `path` (which exists) cannot name a directory: nested values
/// (structs, lists, Maps, idbsync's `__idb_nulls` side column) have no folder name
/// that reads back as the value. (Issue 14, round-trip finding N4: such terms were
/// accepted, and the dataset could not be downloaded.)
pub fn unfit_partition(schema: &arrow_schema::Schema, path: &[String]) -> Option<String> {
    if path[0] == schema_infer::VALUE_COLUMN && schema.metadata().contains_key("idb.value_column") {
        // Finding N17: the records themselves, kept whole.
        return Some("idbsync's column of whole records (partition by one of their fields)".into());
    }
    let mut f = schema.field_with_name(&path[0]).ok()?;
    for p in &path[1..] {
        let DataType::Struct(fields) = f.data_type() else { return None };
        f = fields.iter().find(|c| c.name() == p)?;
    }
    match f.data_type() {
        DataType::Struct(_) => Some("a struct: partition by one of its fields (e.g. 'col.field')".into()),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => Some("a list".into()),
        DataType::Map(..) => Some("a Map".into()),
        // Finding N20: written as hex, with nothing to tell it from text when read back.
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            Some("binary data: partition by bucket(N, col) instead".into())
        }
        _ => None,
    }
}

/// The column at `path` in `batch` (walking into structs).
pub fn column_at(batch: &RecordBatch, path: &[String]) -> Option<ArrayRef> {
    let mut col = batch.column_by_name(&path[0])?.clone();
    for p in &path[1..] {
        let st: &StructArray = col.as_struct_opt()?;
        let child = st.column_by_name(p)?.clone();
        // A null parent makes the child null.
        col = match st.nulls() {
            Some(n) if n.null_count() > 0 => {
                let merged = arrow::buffer::NullBuffer::union(Some(n), child.nulls());
                arrow::array::make_array(child.to_data().into_builder().nulls(merged).build().ok()?)
            }
            _ => child,
        };
    }
    Some(col)
}

/// The longest directory name, in bytes, that common filesystems (ext4, XFS, APFS)
/// and HDFS (`dfs.namenode.fs-limits.max-component-length`) accept.
pub const MAX_NAME_BYTES: usize = 255;

/// Computes each row's partition directory (`day=2024-03-01/status=paid`).
///
/// A `key=value` name longer than [`MAX_NAME_BYTES`] is an error naming the term: it is
/// not shortened, because an identity partition's value lives only in its directory
/// name (the column is left out of the files), so a shortened name would lose data.
pub fn row_dirs(batch: &RecordBatch, spec: &[PartitionField]) -> Result<Vec<String>> {
    let n = batch.num_rows();
    let mut dirs = vec![String::new(); n];
    for f in spec {
        let col = column_at(batch, &f.path).ok_or_else(|| Error::NoPartitionColumn { column: f.path.join(".") })?;
        let values = values(&col, f)?;
        let key = escape_path_name(&f.key());
        for (d, v) in dirs.iter_mut().zip(values) {
            let value = match v {
                Some(v) if !v.is_empty() => escape_path_name(&v),
                _ => HIVE_NULL.to_owned(),
            };
            let len = key.len() + 1 + value.len();
            if len > MAX_NAME_BYTES {
                let head: String = value.chars().take(40).collect();
                return Err(Error::Partition {
                    term: f.to_string(),
                    reason: format!(
                        "the directory name {key}={head}… would be {len} bytes, more than the {MAX_NAME_BYTES} a \
                         filesystem or HDFS allows; partition by a shorter column or by bucket(N, {})",
                        f.path.join(".")
                    ),
                });
            }
            if !d.is_empty() {
                d.push('/');
            }
            d.push_str(&key);
            d.push('=');
            d.push_str(&value);
        }
    }
    Ok(dirs)
}

/// The partition value of each row under the term `f`.
fn values(col: &ArrayRef, f: &PartitionField) -> Result<Vec<Option<String>>> {
    let n = col.len();
    let t = &f.transform;
    let refuse = |reason: String| Error::Partition { term: f.to_string(), reason };
    match t {
        Transform::Identity => {
            let opts = FormatOptions::default().with_null("");
            let fmt = ArrayFormatter::try_new(col.as_ref(), &opts)
                .map_err(|source| Error::Arrow { context: format!("partition by {f}"), source })?;
            Ok((0..n).map(|i| col.is_valid(i).then(|| fmt.value(i).to_string())).collect())
        }
        Transform::Year | Transform::Month | Transform::Day | Transform::Hour => {
            let ms = timestamps_ms(col, f)?;
            Ok(ms
                .into_iter()
                .map(|v| {
                    v.map(|ms| {
                        let days = ms.div_euclid(86_400_000);
                        let hour = ms.rem_euclid(86_400_000) / 3_600_000;
                        let (y, m, d) = civil_from_days(days);
                        match t {
                            Transform::Year => format!("{y:04}"),
                            Transform::Month => format!("{y:04}-{m:02}"),
                            Transform::Day => format!("{y:04}-{m:02}-{d:02}"),
                            _ => format!("{y:04}-{m:02}-{d:02}-{hour:02}"),
                        }
                    })
                })
                .collect())
        }
        Transform::Bucket(nb) => {
            let hashes: Vec<Option<u32>> = match col.data_type() {
                DataType::Int64 | DataType::Timestamp(_, _) => {
                    let a = col.as_primitive_opt::<arrow::datatypes::Int64Type>().map(|a| a.values().to_vec()).or_else(
                        || {
                            col.as_primitive_opt::<arrow::datatypes::TimestampMillisecondType>()
                                .map(|a| a.values().to_vec())
                        },
                    );
                    let v = a.ok_or_else(|| refuse("unsupported column type for bucket".to_owned()))?;
                    (0..n).map(|i| col.is_valid(i).then(|| murmur3_32(&v[i].to_le_bytes(), 0))).collect()
                }
                DataType::Utf8 => {
                    let a = col.as_string::<i32>();
                    (0..n).map(|i| col.is_valid(i).then(|| murmur3_32(a.value(i).as_bytes(), 0))).collect()
                }
                DataType::Binary => {
                    let a = col.as_binary::<i32>();
                    (0..n).map(|i| col.is_valid(i).then(|| murmur3_32(a.value(i), 0))).collect()
                }
                other => return Err(refuse(format!("cannot bucket a {other} column"))),
            };
            Ok(hashes.into_iter().map(|h| h.map(|h| ((h & 0x7fff_ffff) % nb).to_string())).collect())
        }
    }
}

/// Milliseconds since the epoch of each row of a timestamp or date column (term `f`).
fn timestamps_ms(col: &ArrayRef, f: &PartitionField) -> Result<Vec<Option<i64>>> {
    match col.data_type() {
        DataType::Timestamp(unit, _) => {
            let a = arrow::compute::cast(col, &DataType::Int64)
                .map_err(|source| Error::Arrow { context: format!("partition by {f}"), source })?;
            let a = a.as_primitive::<arrow::datatypes::Int64Type>();
            let div = match unit {
                TimeUnit::Second => -1000,
                TimeUnit::Millisecond => 1,
                TimeUnit::Microsecond => 1000,
                TimeUnit::Nanosecond => 1_000_000,
            };
            Ok((0..a.len())
                .map(|i| a.is_valid(i).then(|| if div < 0 { a.value(i) * 1000 } else { a.value(i).div_euclid(div) }))
                .collect())
        }
        DataType::Date32 => {
            let a = col.as_primitive::<arrow::datatypes::Date32Type>();
            Ok((0..a.len()).map(|i| a.is_valid(i).then(|| i64::from(a.value(i)) * 86_400_000)).collect())
        }
        other => Err(Error::Partition {
            term: f.to_string(),
            reason: format!("a time transform needs a timestamp column, not {other}"),
        }),
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Spark's `ExternalCatalogUtils.escapePathName`: control characters and
/// `"#%'*/:=?\{[]^` and DEL become `%XX`.
pub fn escape_path_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let needs = matches!(
            c,
            '\u{01}'
                ..='\u{1F}'
                    | '"'
                    | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '\u{7F}'
                    | '{'
                    | '['
                    | ']'
                    | '^'
        ) || c == '\0';
        if needs {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A store name as a directory name: Spark-escaped, and never `.`, `..` or a name
/// that readers treat as hidden (leading `_` or `.`).
pub fn store_dir_name(name: &str) -> String {
    let mut e = escape_path_name(name);
    if e.is_empty() {
        return "%00".into();
    }
    if e.starts_with('.') {
        e.replace_range(0..1, "%2E");
    }
    if e.starts_with('_') {
        e.replace_range(0..1, "%5F");
    }
    if e.len() > 200 {
        // Keep names within filesystem limits; the manifest keeps the real name.
        let h = murmur3_32(name.as_bytes(), 0);
        e.truncate(e.char_indices().take_while(|(i, _)| *i < 190).last().map_or(0, |(i, c)| i + c.len_utf8()));
        while e.ends_with('%') || e.ends_with(|c: char| c.is_ascii_hexdigit()) && e[..e.len() - 1].ends_with('%') {
            e.pop();
        }
        e.push_str(&format!("~{h:08x}"));
    }
    e
}

/// MurmurHash3 x86 32-bit (what Iceberg's bucket transform uses).
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let mut k = 0u32;
    for (i, &b) in tail.iter().enumerate() {
        k ^= u32::from(b) << (8 * i);
    }
    if !tail.is_empty() {
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_terms() {
        let f: PartitionField = "day(created)".parse().unwrap();
        assert_eq!(
            (f.path.clone(), f.transform.clone(), f.key()),
            (vec!["created".into()], Transform::Day, "day".into())
        );
        let f: PartitionField = "bucket(16, shipping.city)".parse().unwrap();
        assert_eq!(f.transform, Transform::Bucket(16));
        assert_eq!(f.key(), "bucket");
        let f: PartitionField = "shipping.city".parse().unwrap();
        assert_eq!(f.key(), "shipping_city");
        assert!(!f.drops_column());
        assert!("week(x)".parse::<PartitionField>().is_err());
        assert!("bucket(0, x)".parse::<PartitionField>().is_err());
    }

    #[test]
    fn civil_dates_round_trip() {
        for d in [-719_468, -1, 0, 1, 19_783, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
    }

    #[test]
    fn spark_escaping() {
        assert_eq!(escape_path_name("a/b=c:d"), "a%2Fb%3Dc%3Ad");
        assert_eq!(escape_path_name("../x"), "..%2Fx");
        assert_eq!(escape_path_name("plain text-é"), "plain text-é");
        assert_eq!(store_dir_name(".."), "%2E.");
        assert_eq!(store_dir_name("_rejects"), "%5Frejects");
        assert_eq!(store_dir_name("a/../b"), "a%2F..%2Fb");
        assert!(store_dir_name(&"x".repeat(1000)).len() < 220);
    }

    /// Regression (bad-input corpus): a 10,000-character partition value made a
    /// directory name the filesystem refused (ENAMETOOLONG), reported with the whole
    /// path; it is now an error naming the term, and nothing is shortened.
    #[test]
    fn a_partition_directory_name_longer_than_255_bytes_is_an_error_naming_the_term() {
        use arrow::array::StringArray;
        use std::sync::Arc;
        let batch_of = |values: Vec<Option<String>>| {
            let schema = arrow_schema::Schema::new(vec![arrow_schema::Field::new("city", DataType::Utf8, true)]);
            RecordBatch::try_new(Arc::new(schema), vec![Arc::new(StringArray::from(values))]).unwrap()
        };
        let spec: Vec<PartitionField> = vec!["city".parse().unwrap()];
        // "city=" and 250 bytes: exactly 255.
        let fits = "x".repeat(250);
        let dirs = row_dirs(&batch_of(vec![Some(fits.clone()), None, Some("../a/b".into())]), &spec).unwrap();
        assert_eq!(dirs, vec![format!("city={fits}"), format!("city={HIVE_NULL}"), "city=..%2Fa%2Fb".to_owned()]);
        for long in ["x".repeat(251), "/".repeat(100), "é".repeat(5000)] {
            let err = row_dirs(&batch_of(vec![Some("ok".into()), Some(long)]), &spec).unwrap_err().to_string();
            assert!(err.starts_with("partition by city: the directory name city="), "{err}");
            assert!(err.contains("more than the 255") && err.contains("bucket(N, city)"), "{err}");
        }
    }

    #[test]
    fn long_store_names_are_cut_to_a_valid_distinct_directory_name() {
        let names = ["x".repeat(10_000), format!("{}y", "x".repeat(9_999)), "é/".repeat(3000), "%".repeat(300)];
        let dirs: Vec<String> = names.iter().map(|n| store_dir_name(n)).collect();
        for (n, d) in names.iter().zip(&dirs) {
            assert!(d.len() <= MAX_NAME_BYTES, "{} bytes", d.len());
            assert!(!d.contains('/') && !d.contains('\0') && d != "." && d != "..", "{d}");
            assert_eq!(&store_dir_name(n), d, "deterministic");
            // No escape is cut in half.
            let cut = d.rsplit_once('~').unwrap().0;
            assert!(!cut.ends_with('%') && !cut[..cut.len() - 1].ends_with('%'), "{d}");
        }
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), dirs.len());
    }

    #[test]
    fn murmur3_matches_iceberg_vectors() {
        // Iceberg spec: bucket hash of int/long 34 is 2017239379; of "iceberg" 1210000089.
        assert_eq!(murmur3_32(&34i64.to_le_bytes(), 0), 2_017_239_379);
        assert_eq!(murmur3_32(b"iceberg", 0), 1_210_000_089);
    }
}
