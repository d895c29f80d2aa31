//! The rows to merge as a source that can be read once and gives its rows away.
//!
//! A merge's hash join copies the rows it builds its table from into one batch of its
//! own. Read from a memory table, the rows would be held twice until the merge ends: the
//! table's, and the join's copy. Read from this source, the join takes the only copy, so
//! the push's rows are freed once the join has copied them: a 10% batch into 1M rows
//! peaked about 30 MiB lower (benches/results/2026-12-08-push-memory-10.md).

use arrow::array::RecordBatch;
use arrow_schema::SchemaRef;
use deltalake::datafusion::catalog::streaming::StreamingTable;
use deltalake::datafusion::error::DataFusionError;
use deltalake::datafusion::execution::{SendableRecordBatchStream, TaskContext};
use deltalake::datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use deltalake::datafusion::physical_plan::streaming::PartitionStream;
use deltalake::datafusion::prelude::{DataFrame, SessionContext};
use std::sync::{Arc, Mutex};

/// One batch, handed over to the first reader.
#[derive(Debug)]
struct Once {
    schema: SchemaRef,
    batch: Mutex<Option<RecordBatch>>,
}

impl PartitionStream for Once {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.batch.lock().unwrap_or_else(|p| p.into_inner()).take();
        let item = taken.ok_or_else(|| DataFusionError::Internal("the rows to merge were read twice".to_owned()));
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), futures::stream::iter([item])))
    }
}

/// `batch` as a data frame of `ctx` that can be read once (a merge over it must be set
/// to streaming, so that it does not read its source twice).
pub(super) fn read_once(ctx: &SessionContext, batch: RecordBatch) -> Result<DataFrame, DataFusionError> {
    let schema = batch.schema();
    let once = Arc::new(Once { schema: schema.clone(), batch: Mutex::new(Some(batch)) });
    let table = StreamingTable::try_new(schema, vec![once])?;
    ctx.read_table(Arc::new(table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow_schema::{DataType, Field, Schema};

    #[tokio::test]
    async fn gives_its_rows_once_then_fails() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap();
        let ctx = SessionContext::new();
        let df = read_once(&ctx, batch).unwrap();
        let rows: usize = df.clone().collect().await.unwrap().iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 3);
        let again = df.collect().await.unwrap_err().to_string();
        assert!(again.contains("read twice"), "{again}");
    }
}
