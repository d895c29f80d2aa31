//! A read-only DataFusion session over the committed datasets under a root (a local folder
//! or `hdfs://…`): each store is a table; Hive partition columns are typed columns that
//! prune files; only the files of the dataset folder and its partition folders are read,
//! so `_temporary/`, `_rejects/` and `_idbsync/` never reach a result.

use crate::catalog::{discover, TableInfo};
use crate::error::{Error, Result};
use arrow::array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use engine::{Location, StorageOptions};
use futures::StreamExt;
use std::sync::Arc;
use tokio::runtime::Runtime;

/// How a root is opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Register datasets without `_SUCCESS` too.
    pub allow_uncommitted: bool,
    /// How the root is opened (HDFS client settings for `hdfs://` roots).
    pub storage: StorageOptions,
}

/// The committed datasets under a root, ready for SQL.
pub struct Session {
    rt: Runtime,
    ctx: SessionContext,
    /// Every dataset found (registered or not).
    pub tables: Vec<TableInfo>,
    allow_uncommitted: bool,
    root: String,
}

/// Statements a preview may run.
const ALLOWED: &str = "SELECT, WITH, EXPLAIN, SHOW and DESCRIBE";

impl Session {
    /// Finds the datasets under `root` and registers the committed ones (all with
    /// `allow_uncommitted`).
    pub fn open(root: &str, opts: &OpenOptions) -> Result<Session> {
        let location = Location::parse(root).map_err(engine::Error::from)?;
        if let Location::Local(p) = &location {
            if !p.is_dir() {
                return Err(Error::Io(format!("{root}: no such folder")));
            }
        }
        let sink = engine::open_sink(&location, &opts.storage)?;
        let tables = discover(sink.as_ref())?;
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?;
        // IndexedDB names are camelCase (`customerId`): identifiers keep the case they are
        // written in, as the stores spell them.
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("idbsync", "public")
            .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
        let mut ctx = SessionContext::new_with_config(config);
        datafusion_functions_json::register_all(&mut ctx)?;
        // Files are read through the location's object store (HDFS I/O on this session's runtime).
        let (store_url, store) = {
            let _guard = rt.enter();
            engine::open_object_store(&location, &opts.storage)?
        };
        ctx.register_object_store(&store_url, store);
        let base = match &location {
            Location::Local(p) => Some(std::fs::canonicalize(p).map_err(|e| Error::Io(format!("{root}: {e}")))?),
            Location::Hdfs { .. } => None,
        };
        for t in &tables {
            if !t.committed && !opts.allow_uncommitted {
                continue;
            }
            let dir = sink.describe(&t.dir);
            let url = match &base {
                Some(abs) => abs.join(&t.dir).display().to_string(),
                None => dir,
            };
            let url = ListingTableUrl::parse(format!("{}/", url.trim_end_matches('/')))
                .map_err(|e| Error::Io(format!("{url}: {e}")))?;
            let listing = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(t.partitions.clone());
            let config =
                ListingTableConfig::new(url).with_listing_options(listing).with_schema(Arc::new(t.file_schema()));
            let table =
                ListingTable::try_new(config).map_err(|source| Error::Table { table: t.name.clone(), source })?;
            ctx.register_table(datafusion::common::TableReference::bare(t.name.as_str()), Arc::new(table))
                .map_err(|source| Error::Table { table: t.name.clone(), source })?;
        }
        Ok(Session { rt, ctx, tables, allow_uncommitted: opts.allow_uncommitted, root: root.to_owned() })
    }

    /// The names of the tables SQL can use.
    pub fn table_names(&self) -> Vec<&str> {
        self.tables.iter().filter(|t| t.committed || self.allow_uncommitted).map(|t| t.name.as_str()).collect()
    }

    /// Plans a read-only statement.
    pub fn sql(&self, sql: &str) -> Result<DataFrame> {
        self.check_read_only(sql)?;
        let opts = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        self.rt.block_on(self.ctx.sql_with_options(sql, opts)).map_err(|e| self.explain_error(e))
    }

    fn check_read_only(&self, sql: &str) -> Result<()> {
        read_only(&self.ctx.state(), sql)
    }

    /// DataFusion's message, with the table list when a table is unknown and a hint when
    /// the table exists but is not committed.
    fn explain_error(&self, e: datafusion::error::DataFusionError) -> Error {
        let msg = e.to_string();
        if msg.contains("not found") && msg.contains("table") {
            let named = |n: &str| msg.contains(&format!("'{n}'")) || msg.contains(&format!(".{n}'"));
            for t in &self.tables {
                if !t.committed && !self.allow_uncommitted && named(&t.name) {
                    return Error::Uncommitted(format!(
                        "table {} ({}/{}) is not committed: it has no _SUCCESS (a job is running or was \
                         interrupted); --allow-uncommitted reads it anyway",
                        t.name,
                        self.root.trim_end_matches('/'),
                        t.dir
                    ));
                }
            }
            return Error::UnknownTable { root: self.root.clone(), tables: self.table_names().join(", "), source: e };
        }
        Error::Sql(e)
    }

    /// Runs a plan as a stream of batches.
    pub fn stream(&self, df: DataFrame) -> Result<BatchIter<'_>> {
        let stream = self.rt.block_on(df.execute_stream())?;
        Ok(BatchIter { rt: &self.rt, stream })
    }

    /// Runs `sql` and keeps the first `limit` rows (all with 0); returns them with the
    /// result's schema and the total row count.
    pub fn preview(&self, sql: &str, limit: usize) -> Result<Preview> {
        let df = self.sql(sql)?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let mut kept = Vec::new();
        let (mut rows, mut total) = (0usize, 0u64);
        for batch in self.stream(df)? {
            let batch = batch?;
            total += batch.num_rows() as u64;
            if limit == 0 || rows < limit {
                let take = if limit == 0 { batch.num_rows() } else { batch.num_rows().min(limit - rows) };
                rows += take;
                kept.push(batch.slice(0, take));
            }
        }
        Ok(Preview { schema, batches: kept, total })
    }

    /// The plan of `sql` (`EXPLAIN`'s output).
    pub fn explain(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        self.check_read_only(sql)?;
        let df = self.sql(sql)?;
        let df = df.explain(false, false)?;
        Ok(self.rt.block_on(df.collect())?)
    }
}

/// A result: the first rows, and how many there were in all.
pub struct Preview {
    /// The result's schema.
    pub schema: SchemaRef,
    /// The rows kept.
    pub batches: Vec<RecordBatch>,
    /// Rows in the whole result.
    pub total: u64,
}

/// A result's batches, one at a time (a result larger than memory streams).
pub struct BatchIter<'a> {
    rt: &'a Runtime,
    stream: SendableRecordBatchStream,
}

impl Iterator for BatchIter<'_> {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rt.block_on(self.stream.next()).map(|r| r.map_err(Error::from))
    }
}

/// Whether `sql` is a statement a preview may run (SELECT, WITH, EXPLAIN, SHOW,
/// DESCRIBE), checked before any table is opened: [`Error::ReadOnly`] otherwise.
pub fn check_read_only(sql: &str) -> Result<()> {
    read_only(&SessionContext::new().state(), sql)
}

fn read_only(state: &datafusion::execution::SessionState, sql: &str) -> Result<()> {
    let stmt = state.sql_to_statement(sql, &datafusion::config::Dialect::Generic)?;
    let ok = match &stmt {
        DfStatement::Statement(s) => matches!(
            s.as_ref(),
            Statement::Query(_)
                | Statement::Explain { .. }
                | Statement::ExplainTable { .. }
                | Statement::ShowTables { .. }
                | Statement::ShowColumns { .. }
                | Statement::ShowFunctions { .. }
        ),
        DfStatement::Explain(_) => true,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let first = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    Err(Error::ReadOnly(format!("{first} is not allowed: query is read-only and runs only {ALLOWED} statements")))
}
