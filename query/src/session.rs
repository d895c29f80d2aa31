//! A read-only DataFusion session over the committed datasets under a root (a local folder
//! or `hdfs://…`): each store is a table; Hive partition columns are typed columns that
//! prune files; only the files of the dataset folder and its partition folders are read,
//! so `_temporary/`, `_rejects/` and `_idbsync/` never reach a result.

use crate::catalog::{discover, TableInfo, TableKind};
use crate::error::{Error, Result};
use crate::views;
use arrow::array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use engine::{AsOf, Location, StorageOptions};
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
    /// Which version of the synced (Delta) tables to read (time travel); converted
    /// datasets have one version only.
    pub as_of: AsOf,
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
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?;
        let tables = discover(sink.as_ref(), root, &opts.as_of, &opts.storage, &rt)?;
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
            let provider = match &t.kind {
                TableKind::Parquet(_) => parquet_table(t, &base, sink.as_ref())?,
                TableKind::Delta(d) => delta_table(t, d, &ctx, &rt)?,
            };
            ctx.register_table(datafusion::common::TableReference::bare(t.name.as_str()), provider)
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

    /// Runs a plan as a stream of batches, of the types [`Session::result_schema`] gives.
    pub fn stream(&self, df: DataFrame) -> Result<BatchIter<'_>> {
        let schema = self.result_schema(&df);
        let stream = self.rt.block_on(df.execute_stream())?;
        Ok(BatchIter { rt: &self.rt, stream, schema })
    }

    /// The schema of `df`'s results: the columns' types as the datasets store them (text
    /// read as string views is given back as plain strings, [`views`]), metadata kept.
    pub fn result_schema(&self, df: &DataFrame) -> SchemaRef {
        Arc::new(views::plain(df.schema().as_arrow()))
    }

    /// Runs `sql` and keeps the first `limit` rows (all with 0); returns them with the
    /// result's schema and the total row count.
    pub fn preview(&self, sql: &str, limit: usize) -> Result<Preview> {
        let df = self.sql(sql)?;
        let schema = self.result_schema(&df);
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

/// A converted dataset's files as a listing table: Hive partition columns typed, only the
/// dataset folder and its partition folders read.
fn parquet_table(
    t: &TableInfo,
    base: &Option<std::path::PathBuf>,
    sink: &dyn engine::Sink,
) -> Result<Arc<dyn TableProvider>> {
    let dir = sink.describe(&t.dir);
    let url = match base {
        Some(abs) => abs.join(&t.dir).display().to_string(),
        None => dir,
    };
    let url = ListingTableUrl::parse(format!("{}/", url.trim_end_matches('/')))
        .map_err(|e| Error::Io(format!("{url}: {e}")))?;
    let listing = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(t.partitions.clone());
    // Text read as string views ([`views`]); results are given back as plain strings.
    let schema = views::read_as_views(&t.file_schema());
    let config = ListingTableConfig::new(url).with_listing_options(listing).with_schema(Arc::new(schema));
    let table = ListingTable::try_new(config).map_err(|source| Error::Table { table: t.name.clone(), source })?;
    Ok(Arc::new(table))
}

/// Columns of a synced table that SQL does not see: the merge key's text and the content
/// hash are bookkeeping; who wrote a row and when (`_idb_client`, `_idb_batch`,
/// `_idb_updated_at`) stay visible, so that conflicts can be found with SQL.
const UNSEEN: [&str; 2] = ["_idb_key", "_idb_hash"];

/// A synced table at the version opened (deltalake's provider: file statistics and
/// partition values from the Delta log), seen through a projection without [`UNSEEN`].
fn delta_table(
    t: &TableInfo,
    d: &engine::SyncedTable,
    ctx: &SessionContext,
    rt: &Runtime,
) -> Result<Arc<dyn TableProvider>> {
    let table_err = |source| Error::Table { table: t.name.clone(), source };
    d.prepare_session(&ctx.state())?;
    let provider = rt.block_on(d.provider())?;
    let df = ctx.read_table(provider).map_err(table_err)?;
    let seen: Vec<String> =
        df.schema().fields().iter().map(|f| f.name().clone()).filter(|n| !UNSEEN.contains(&n.as_str())).collect();
    let seen: Vec<&str> = seen.iter().map(String::as_str).collect();
    Ok(df.select_columns(&seen).map_err(table_err)?.into_view())
}

/// `df` without the bookkeeping columns of synced tables (`_idb_client`, `_idb_batch`,
/// `_idb_updated_at` …, and the `_idb_day` partition column of `day(col)`): what goes back
/// into IndexedDB or into another synced table holds only the records' own fields.
pub fn without_bookkeeping(df: DataFrame) -> Result<DataFrame> {
    let keep: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !engine::HIDDEN.contains(&n.as_str()) && n != engine::DAY_COLUMN)
        .collect();
    if keep.len() == df.schema().fields().len() {
        return Ok(df);
    }
    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    Ok(df.select_columns(&keep)?)
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
    /// The types the batches are given as.
    schema: SchemaRef,
}

impl Iterator for BatchIter<'_> {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        let next = self.rt.block_on(self.stream.next())?;
        Some(next.and_then(|b| views::to_plain(b, &self.schema)).map_err(Error::from))
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
