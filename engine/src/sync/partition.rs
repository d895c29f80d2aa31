//! `--partition-by` for synced tables: Delta partition columns, chosen when a table is
//! created and kept by every later push.
//!
//! A top-level column partitions the table by its value. `day(col)` partitions it by the
//! hidden generated column `_idb_day`, declared as Delta generates it
//! (`DATE GENERATED ALWAYS AS (CAST(col AS DATE))`, so Spark knows how it is made and
//! derives partition filters from filters on `col`). idbsync computes it itself (the UTC
//! day of the timestamp) and writes it with every inserted and updated row, so an update
//! that changes the day moves the row to its new partition. The terms are kept in the
//! table's property `idbsync.partition_by`; a push that names others is refused.

use super::sync_err;
use crate::error::Result;
use crate::output::partition::{PartitionField, Transform};
use arrow::array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use deltalake::kernel::{DataType as DeltaType, PrimitiveType, StructField};
use std::collections::HashMap;
use std::sync::Arc;

/// The hidden generated column of a table partitioned by `day(col)`.
pub const DAY: &str = "_idb_day";
/// Table property: the `--partition-by` terms the table was created with (JSON list).
pub(crate) const PROP_PARTITION_BY: &str = "idbsync.partition_by";
/// Delta's column metadata key for a generated column's SQL expression.
const GENERATION_EXPRESSION: &str = "delta.generationExpression";

/// One partition term of a synced table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    /// The value of a top-level column.
    Column(String),
    /// The UTC day of a top-level timestamp column, in [`DAY`].
    Day(String),
}

impl Part {
    /// The Delta partition column.
    pub(super) fn column(&self) -> &str {
        match self {
            Part::Column(c) => c,
            Part::Day(_) => DAY,
        }
    }

    /// The term as `--partition-by` takes it.
    fn term(&self) -> String {
        match self {
            Part::Column(c) => c.clone(),
            Part::Day(c) => format!("day({c})"),
        }
    }
}

/// The terms given, as synced tables take them: a top-level column or `day(column)`.
pub(super) fn parse(table: &str, given: &[PartitionField]) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    for f in given {
        let part = match (&f.transform, f.path.as_slice()) {
            (Transform::Identity, [c]) => Part::Column(c.clone()),
            (Transform::Day, [c]) => Part::Day(c.clone()),
            _ => {
                return Err(sync_err(
                    table,
                    format!(
                        "--partition-by {f}: a synced table is partitioned by a top-level column or day(column) \
                         (year, month, hour, bucket and nested columns are for converted datasets)"
                    ),
                ))
            }
        };
        if parts.iter().any(|p: &Part| p.column() == part.column()) {
            return Err(sync_err(table, format!("--partition-by {f}: given twice")));
        }
        parts.push(part);
    }
    Ok(parts)
}

/// The partitioning of an existing table: its `idbsync.partition_by` terms, or, for a
/// table idbsync did not make, its partition columns.
pub(super) fn of_table(table: &str, cfg: &HashMap<String, String>, columns: &[String]) -> Result<Vec<Part>> {
    match cfg.get(PROP_PARTITION_BY) {
        Some(text) => {
            let terms: Vec<String> = serde_json::from_str(text)
                .map_err(|e| sync_err(table, format!("bad {PROP_PARTITION_BY} property: {e}")))?;
            let fields = terms
                .iter()
                .map(|t| t.parse::<PartitionField>().map_err(|e| sync_err(table, format!("{PROP_PARTITION_BY}: {e}"))))
                .collect::<Result<Vec<_>>>()?;
            parse(table, &fields)
        }
        None => Ok(columns.iter().cloned().map(Part::Column).collect()),
    }
}

/// Refuses a push that names a partitioning (`given` not empty) other than the table's.
pub(super) fn check_same(table: &str, given: &[Part], theirs: &[Part]) -> Result<()> {
    if given.is_empty() || given == theirs {
        return Ok(());
    }
    let show = |ps: &[Part]| ps.iter().map(Part::term).collect::<Vec<_>>().join(", ");
    let reason = if theirs.is_empty() {
        format!("the table is not partitioned; --partition-by {} cannot change that", show(given))
    } else {
        format!(
            "the table is partitioned by {}, not by {}: give --partition-by {} or leave it out",
            show(theirs),
            show(given),
            show(theirs)
        )
    };
    Err(sync_err(table, reason))
}

/// The table property that records `parts` (`None` for an unpartitioned table).
pub(super) fn property(parts: &[Part]) -> Option<(String, Option<String>)> {
    let terms: Vec<String> = parts.iter().map(Part::term).collect();
    (!terms.is_empty())
        .then(|| (PROP_PARTITION_BY.to_owned(), Some(serde_json::to_string(&terms).expect("strings serialise"))))
}

/// The partition columns of a table partitioned by `parts`.
pub(super) fn columns(parts: &[Part]) -> Vec<String> {
    parts.iter().map(|p| p.column().to_owned()).collect()
}

/// The columns of a table to create, checked against `parts` (each column is there, with
/// a type it can be partitioned by), with the generated column of `day(col)` added.
pub(super) fn creation_columns(table: &str, parts: &[Part], mut columns: Vec<StructField>) -> Result<Vec<StructField>> {
    for p in parts {
        let (Part::Column(c) | Part::Day(c)) = p;
        let Some(f) = columns.iter().find(|f| f.name() == c) else {
            return Err(sync_err(
                table,
                format!(
                    "--partition-by {}: the records creating the table have no field '{c}' (a partition column \
                     is chosen when the table is created)",
                    p.term()
                ),
            ));
        };
        let ty = f.data_type();
        let fits = match p {
            Part::Column(_) => matches!(ty, DeltaType::Primitive(t) if *t != PrimitiveType::Binary),
            Part::Day(_) => matches!(
                ty,
                DeltaType::Primitive(PrimitiveType::Timestamp | PrimitiveType::TimestampNtz | PrimitiveType::Date)
            ),
        };
        if !fits {
            let needs = match p {
                Part::Column(_) => "a number, text, boolean, date or timestamp column",
                Part::Day(_) => "a timestamp (Dates; ISO-8601 text with --detect-timestamps)",
            };
            return Err(sync_err(table, format!("--partition-by {}: '{c}' is {ty}, not {needs}", p.term())));
        }
        if let Part::Day(c) = p {
            let expr = format!("CAST(`{}` AS DATE)", c.replace('`', "``"));
            let meta = [(GENERATION_EXPRESSION, expr)];
            columns.push(StructField::new(DAY, DeltaType::Primitive(PrimitiveType::Date), true).with_metadata(meta));
        }
    }
    Ok(columns)
}

/// The rows to merge with [`DAY`] computed from their timestamp when the table is
/// partitioned by `day(col)`; the column names to merge with it.
pub(super) fn with_day(
    table: &str,
    parts: &[Part],
    source: RecordBatch,
    mut names: Vec<String>,
) -> Result<(RecordBatch, Vec<String>)> {
    let Some(c) = parts.iter().find_map(|p| if let Part::Day(c) = p { Some(c) } else { None }) else {
        return Ok((source, names));
    };
    let Some(ts) = source.column_by_name(c) else {
        return Err(sync_err(table, format!("the rows to merge have no column '{c}' for {DAY}")));
    };
    let day: ArrayRef = arrow::compute::cast(ts, &DataType::Date32)
        .map_err(|e| sync_err(table, format!("day({c}) of the rows to merge: {e}")))?;
    let mut fields: Vec<Field> = source.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut arrays = source.columns().to_vec();
    fields.push(Field::new(DAY, DataType::Date32, true));
    arrays.push(day);
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| sync_err(table, format!("the rows to merge: {e}")))?;
    names.push(DAY.to_owned());
    Ok((batch, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(terms: &[&str]) -> Vec<PartitionField> {
        terms.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn terms_synced_tables_take_and_refuse() {
        let parts = parse("t", &fields(&["city", "day(created)"])).unwrap();
        assert_eq!(parts, [Part::Column("city".into()), Part::Day("created".into())]);
        assert_eq!(columns(&parts), ["city", DAY]);
        for bad in ["month(created)", "bucket(4, id)", "a.b"] {
            let e = parse("t", &fields(&[bad])).unwrap_err().to_string();
            assert!(e.contains("top-level column or day(column)"), "{e}");
        }
        assert!(parse("t", &fields(&["city", "city"])).unwrap_err().to_string().contains("given twice"));
        let (k, v) = property(&parts).unwrap();
        let cfg = HashMap::from([(k, v.unwrap())]);
        assert_eq!(of_table("t", &cfg, &["city".into(), DAY.into()]).unwrap(), parts);
        assert!(property(&[]).is_none());
    }

    #[test]
    fn a_push_keeps_the_tables_partitioning() {
        let city = [Part::Column("city".into())];
        assert!(check_same("t", &[], &city).is_ok());
        assert!(check_same("t", &city, &city).is_ok());
        let e = check_same("t", &[Part::Day("at".into())], &city).unwrap_err().to_string();
        assert!(e.contains("partitioned by city, not by day(at): give --partition-by city or leave it out"), "{e}");
        let e = check_same("t", &city, &[]).unwrap_err().to_string();
        assert!(e.contains("the table is not partitioned"), "{e}");
    }

    #[test]
    fn creation_checks_the_columns_and_adds_the_generated_day() {
        let cols = vec![
            StructField::new("city", DeltaType::Primitive(PrimitiveType::String), true),
            StructField::new("at", DeltaType::Primitive(PrimitiveType::Timestamp), true),
        ];
        let out = creation_columns("t", &[Part::Day("at".into())], cols.clone()).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].name(), DAY);
        let expr = out[2].metadata().get(GENERATION_EXPRESSION).unwrap();
        assert_eq!(expr, &deltalake::kernel::MetadataValue::String("CAST(`at` AS DATE)".into()));
        let e = creation_columns("t", &[Part::Day("city".into())], cols.clone()).unwrap_err().to_string();
        assert!(e.contains("'city' is string, not a timestamp"), "{e}");
        let e = creation_columns("t", &[Part::Column("n".into())], cols).unwrap_err().to_string();
        assert!(e.contains("have no field 'n'"), "{e}");
    }
}
