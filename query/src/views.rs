//! Text read as string views, results given as plain strings.
//!
//! Read as `Utf8`, every dictionary-encoded text value of a Parquet page is copied into a
//! fresh string buffer before DataFusion sees it; read as `Utf8View`, the values point
//! into the decoded page, and DataFusion groups and compares short ones inline. A
//! group-by per `status` over 10M orders took 0.42 s read as `Utf8` and 0.27 s as views
//! (benches/results/2026-12-08-query-cli.md). So the top-level text columns of converted
//! datasets are read as views, and results leave the session with the types the dataset
//! stores (`Utf8`, field metadata kept), so that outputs, downloads and `--create` see
//! what they always saw.

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::DataFusionError;
use std::sync::Arc;

/// `schema` with its top-level `Utf8` columns read as `Utf8View` (metadata kept).
pub(crate) fn read_as_views(schema: &Schema) -> Schema {
    swap(schema, &DataType::Utf8, DataType::Utf8View)
}

/// `schema` with its top-level `Utf8View` columns given as `Utf8` (metadata kept).
pub(crate) fn plain(schema: &Schema) -> Schema {
    swap(schema, &DataType::Utf8View, DataType::Utf8)
}

fn swap(schema: &Schema, from: &DataType, to: DataType) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() == from {
            true => f.as_ref().clone().with_data_type(to.clone()),
            false => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// `batch` with its columns cast to `to` ([`plain`] of the batch's schema): a batch
/// without string views is given back as it is.
pub(crate) fn to_plain(batch: RecordBatch, to: &SchemaRef) -> Result<RecordBatch, DataFusionError> {
    if batch.schema().fields().iter().all(|f| f.data_type() != &DataType::Utf8View) {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(to.fields())
        .map(|(c, f)| match c.data_type() == f.data_type() {
            true => Ok(c.clone()),
            false => arrow::compute::cast(c, f.data_type()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(Arc::clone(to), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, StringViewArray};
    use std::collections::HashMap;

    #[test]
    fn views_go_back_to_plain_strings_with_their_metadata() {
        let tagged = Field::new("s", DataType::Utf8, true)
            .with_metadata(HashMap::from([("idb.type".to_owned(), "bigint".to_owned())]));
        let stored = Schema::new(vec![tagged, Field::new("n", DataType::Int64, false)]);
        let read = read_as_views(&stored);
        assert_eq!(read.field(0).data_type(), &DataType::Utf8View);
        assert_eq!(read.field(0).metadata(), stored.field(0).metadata());
        assert_eq!(read.field(1).data_type(), &DataType::Int64);
        let back: SchemaRef = Arc::new(plain(&read));
        assert_eq!(back.as_ref(), &stored);

        let batch = RecordBatch::try_new(
            Arc::new(read),
            vec![
                Arc::new(StringViewArray::from(vec![Some("a rather long text value"), None])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        let out = to_plain(batch, &back).unwrap();
        assert_eq!(out.schema(), back);
        let s = out.column(0).as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        assert_eq!(s.value(0), "a rather long text value");
        assert!(s.is_null(1));
    }
}
