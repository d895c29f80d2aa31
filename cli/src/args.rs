//! Command-line arguments. These types stay in the binary: they convert into the
//! libraries' own types with `From`.

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Move IndexedDB exports into Parquet on HDFS or a local folder, and back.
#[derive(Debug, Parser)]
#[command(name = "idbsync", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Infer one Arrow schema per object store over the whole input.
    Infer(InferArgs),
    /// Convert an export into zstd Parquet datasets, one per object store.
    Convert(ConvertArgs),
    /// The main job on the embedded default: convert the bundled exports into a local folder.
    Demo(DemoArgs),
    /// Copy a local dataset tree to HDFS (parallel, checksummed, atomic).
    Put(TransferArgs),
    /// Copy a dataset tree from HDFS to a local folder (parallel, checksummed, atomic).
    Get(TransferArgs),
    /// Run a read-only SQL query over the committed datasets under ROOT (DataFusion).
    Query(QueryArgs),
    /// List the datasets under ROOT: rows, files, partition columns, committed or not.
    Tables(TablesArgs),
    /// Print one table's schema as a tree.
    Schema(SchemaArgs),
    /// Write a store as a Dexie export (for importDB), NDJSON, CSV or Parquet.
    Download(DownloadArgs),
    /// Merge an export (or the changes since the last sync) into one Delta table per store, by key.
    #[cfg(feature = "sync")]
    Push(PushArgs),
    /// Write a synced table's changes since a checkpoint (or all of it) for IndexedDB.
    #[cfg(feature = "sync")]
    Pull(PullArgs),
    /// Serve push, pull, query and tables over HTTP to browsers (the JavaScript client).
    #[cfg(feature = "sync")]
    Serve(ServeArgs),
    /// Manage the bearer tokens of `idbsync serve`.
    #[cfg(feature = "sync")]
    #[command(subcommand)]
    Token(TokenCommand),
    /// List a synced table's commits: versions, operations, clients, batches, row counts.
    #[cfg(feature = "sync")]
    History(HistoryArgs),
    /// Compact the small files that frequent pushes leave in synced tables (rows unchanged).
    #[cfg(feature = "sync")]
    Optimize(OptimizeArgs),
    /// Delete the files of synced tables that no version within the retention needs.
    #[cfg(feature = "sync")]
    Vacuum(VacuumArgs),
}

/// How `query` prints its result.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum QueryFormatArg {
    /// An aligned table of the first rows
    Table,
    /// CSV with a header
    Csv,
    /// A JSON array of objects
    Json,
    /// One JSON object per line
    Ndjson,
}

impl From<QueryFormatArg> for query::Format {
    fn from(f: QueryFormatArg) -> Self {
        match f {
            QueryFormatArg::Table => query::Format::Table,
            QueryFormatArg::Csv => query::Format::Csv,
            QueryFormatArg::Json => query::Format::Json,
            QueryFormatArg::Ndjson => query::Format::Ndjson,
        }
    }
}

/// Where datasets are read from.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// A folder or hdfs://… holding datasets (a dataset root, or one dataset).
    pub root: String,
    /// Also read datasets without _SUCCESS (a running or interrupted job).
    #[arg(long)]
    pub allow_uncommitted: bool,
    /// HDFS client setting over HADOOP_CONF_DIR's files, repeatable.
    #[arg(long = "hdfs-conf", value_name = "KEY=VALUE")]
    pub hdfs_conf: Vec<String>,
}

impl From<&RootArgs> for engine::StorageOptions {
    fn from(r: &RootArgs) -> Self {
        r.hdfs_conf.iter().fold(engine::StorageOptions::new(), |o, kv| o.with_hdfs_conf(kv))
    }
}

/// What `download` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DownloadFormatArg {
    /// A Dexie export v1 that dexie-export-import's importDB / importInto read
    Dexie,
    /// One plain JSON object per line
    Ndjson,
    /// CSV with a header row
    Csv,
    /// One zstd Parquet file
    Parquet,
}

impl From<DownloadFormatArg> for engine::DownloadFormat {
    fn from(f: DownloadFormatArg) -> Self {
        match f {
            DownloadFormatArg::Dexie => engine::DownloadFormat::Dexie,
            DownloadFormatArg::Ndjson => engine::DownloadFormat::Ndjson,
            DownloadFormatArg::Csv => engine::DownloadFormat::Csv,
            DownloadFormatArg::Parquet => engine::DownloadFormat::Parquet,
        }
    }
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["table", "sql"]))]
pub struct DownloadArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// The store (table) to download, whole.
    #[arg(long)]
    pub table: Option<String>,
    /// A query whose result to download.
    #[arg(long)]
    pub sql: Option<String>,
    /// The table name in a Dexie export of a query result.
    #[arg(long, default_value = "result")]
    pub table_name: String,
    /// The file to write (replaced atomically), or `-` for stdout.
    #[arg(long)]
    pub to: String,
    /// What to write.
    #[arg(long, value_enum, default_value = "dexie")]
    pub format: DownloadFormatArg,
    /// Dexie: the database name in the header (default: the stored one).
    #[arg(long)]
    pub database: Option<String>,
    /// Dexie: the database version in the header (default: the stored one, else 1).
    #[arg(long, value_name = "N")]
    pub db_version: Option<f64>,
    /// Dexie: the table's schema string, e.g. `++id,name` (default: the stored one; `++` for
    /// stores that came without one).
    #[arg(long, value_name = "SCHEMA")]
    pub dexie_schema: Option<String>,
    /// Parquet: compression (zstd[:LEVEL], snappy, lz4, gzip, none).
    #[arg(long, default_value = "zstd:3")]
    pub compression: String,
    /// Print the summary (on stderr) as JSON.
    #[arg(long)]
    pub json: bool,
    /// No summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// The statement: SELECT, WITH, EXPLAIN, SHOW or DESCRIBE. Each store is a table.
    pub sql: String,
    /// Rows shown (0: all). CSV and JSON formats print all rows unless given.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormatArg,
    /// Print the query plan instead of running it.
    #[arg(long)]
    pub explain: bool,
    /// Read the synced (Delta) tables as they were at this version (a checkpoint) or time
    /// (RFC 3339, or a date: its midnight UTC). Converted datasets have one version only.
    #[arg(long, value_name = "VERSION|TIME")]
    pub as_of: Option<String>,
    /// Materialise the SELECT as the synced table NAME under ROOT (replaced atomically on
    /// re-run: one commit of exactly the rows that changed), for browsers to pull.
    #[cfg(feature = "sync")]
    #[arg(long, value_name = "NAME", conflicts_with_all = ["explain", "as_of"])]
    pub create: Option<String>,
    /// With --create: the result's primary key path (`id`, `[a+b]`; default: `id`).
    #[cfg(feature = "sync")]
    #[arg(long, value_name = "PATH", requires = "create")]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct TablesArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// The table (store) name.
    pub table: String,
}

/// How to reach HDFS and how files are written there.
#[derive(Debug, Args, Clone)]
pub struct HdfsArgs {
    /// HDFS client setting over HADOOP_CONF_DIR's files, repeatable (e.g. dfs.client.use.datanode.hostname=true).
    #[arg(long = "hdfs-conf", value_name = "KEY=VALUE")]
    pub hdfs_conf: Vec<String>,
    /// HDFS block size of written files (e.g. 128MB; default: the cluster's).
    #[arg(long, value_name = "SIZE")]
    pub block_size: Option<String>,
    /// HDFS replication of written files (default: the cluster's).
    #[arg(long, value_name = "N")]
    pub replication: Option<u32>,
}

/// How to reach HDFS, for the commands that only open tables there (push, pull, serve, …).
#[derive(Debug, Args, Clone)]
pub struct HdfsConfArgs {
    /// HDFS client setting over HADOOP_CONF_DIR's files, repeatable (e.g. dfs.client.use.datanode.hostname=true).
    #[arg(long = "hdfs-conf", value_name = "KEY=VALUE")]
    pub hdfs_conf: Vec<String>,
}

impl From<&HdfsConfArgs> for engine::StorageOptions {
    fn from(h: &HdfsConfArgs) -> Self {
        h.hdfs_conf.iter().fold(engine::StorageOptions::new(), |o, kv| o.with_hdfs_conf(kv))
    }
}

/// The sizes are parsed here; the engine checks what HDFS accepts when it opens a location.
impl TryFrom<&HdfsArgs> for engine::StorageOptions {
    type Error = anyhow::Error;
    fn try_from(h: &HdfsArgs) -> anyhow::Result<Self> {
        let mut o = h.hdfs_conf.iter().fold(engine::StorageOptions::new(), |o, kv| o.with_hdfs_conf(kv));
        if let Some(s) = &h.block_size {
            o = o.with_block_size(crate::size::parse_size(s).map_err(anyhow::Error::msg).context("--block-size")?);
        }
        if let Some(r) = h.replication {
            o = o.with_replication(r);
        }
        Ok(o)
    }
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// What to copy: a dataset root (several stores) or one store's dataset.
    pub from: String,
    /// Where the tree goes (it must not exist, unless --update).
    pub to: String,
    /// Copy into an existing destination, skipping files whose size and CRC32C already match.
    #[arg(long)]
    pub update: bool,
    /// Do not read copied files back to check their CRC32C.
    #[arg(long)]
    pub no_verify: bool,
    /// Files copied at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    #[command(flatten)]
    pub hdfs: HdfsArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What to do with an existing dataset.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Refuse to write over an existing dataset
    Error,
    /// Replace the dataset
    Overwrite,
    /// Add files to the dataset (the schema must match)
    Append,
}

impl From<ModeArg> for engine::Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Error => engine::Mode::Error,
            ModeArg::Overwrite => engine::Mode::Overwrite,
            ModeArg::Append => engine::Mode::Append,
        }
    }
}

/// What happens to records that do not fit the schema.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnInvalidArg {
    /// Keep them in <store>/_rejects/ with the reason and their place
    Quarantine,
    /// Count them, keep nothing
    Skip,
    /// Stop with an error and commit nothing
    Fail,
}

impl From<OnInvalidArg> for engine::OnInvalid {
    fn from(o: OnInvalidArg) -> Self {
        match o {
            OnInvalidArg::Quarantine => engine::OnInvalid::Quarantine,
            OnInvalidArg::Skip => engine::OnInvalid::Skip,
            OnInvalidArg::Fail => engine::OnInvalid::Fail,
        }
    }
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output folder or hdfs://host:port/path, hdfs://nameservice/path (one dataset per store: <OUT>/<store>/).
    #[arg(long, short)]
    pub out: PathBuf,
    #[command(flatten)]
    pub hdfs: HdfsArgs,
    /// After the commit, read every file back and check its CRC32C against the manifest.
    #[arg(long)]
    pub verify: bool,
    /// Hive partitioning, repeatable: col, year(col), month(col), day(col), hour(col), bucket(N, col).
    #[arg(long = "partition-by", value_name = "TERM")]
    pub partition_by: Vec<String>,
    /// Parquet compression: zstd[:LEVEL], snappy, lz4, gzip, none.
    #[arg(long, default_value = "zstd:3")]
    pub compression: String,
    /// Rows per Parquet row group.
    #[arg(long, default_value_t = 122_880)]
    pub row_group_rows: usize,
    /// Roll to a new file past this size (e.g. 256MB, 1GiB).
    #[arg(long, value_name = "SIZE")]
    pub max_file_size: Option<String>,
    /// What to do with an existing dataset.
    #[arg(long, value_enum, default_value = "error")]
    pub mode: ModeArg,
    /// What happens to records that do not fit the schema.
    #[arg(long, value_enum, default_value = "quarantine")]
    pub on_invalid: OnInvalidArg,
    /// What to write: Hive-style Parquet datasets with _SUCCESS, or one synced Delta table
    /// per store (a first snapshot that `push` then keeps current).
    #[arg(long, value_enum, default_value = "parquet")]
    pub table_format: TableFormatArg,
    /// With --table-format delta: the records' primary key path (`id`, `[a+b]`; default:
    /// the Dexie schema's; required for NDJSON and plain dumps).
    #[arg(long, value_name = "PATH")]
    pub key: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The table format `convert` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormatArg {
    /// Hive-style zstd Parquet folders, a manifest and _SUCCESS
    Parquet,
    /// A Delta Lake table per store (deltalake), as `push` makes and keeps them
    Delta,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, short, default_value = "idbsync-demo-out")]
    pub out: PathBuf,
    /// Where the bundled exports are.
    #[arg(long, default_value = "testdata/fixtures")]
    pub fixtures: PathBuf,
}

/// Input format (detected from the content unless given).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Dexie export (dexie-export-import)
    Dexie,
    /// Plain `{ "store": [records] }` dump
    Stores,
    /// One JSON record per line
    Ndjson,
    /// One top-level JSON array of records
    JsonArray,
}

impl From<FormatArg> for schema_infer::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Dexie => schema_infer::Format::Dexie,
            FormatArg::Stores => schema_infer::Format::Stores,
            FormatArg::Ndjson => schema_infer::Format::Ndjson,
            FormatArg::JsonArray => schema_infer::Format::JsonArray,
        }
    }
}

/// What a type conflict becomes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnConflictArg {
    /// A lossless JSON-text column (Arrow extension `arrow.json`)
    Json,
    /// A plain string column
    String,
    /// Stop with an error
    Error,
}

impl From<OnConflictArg> for schema_infer::OnConflict {
    fn from(c: OnConflictArg) -> Self {
        match c {
            OnConflictArg::Json => schema_infer::OnConflict::Json,
            OnConflictArg::String => schema_infer::OnConflict::String,
            OnConflictArg::Error => schema_infer::OnConflict::Error,
        }
    }
}

/// What an unknown typeson tag becomes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnknownTagsArg {
    /// Stop with an error naming the tag
    Error,
    /// Keep such values as JSON text
    Json,
}

impl From<UnknownTagsArg> for schema_infer::UnknownTags {
    fn from(u: UnknownTagsArg) -> Self {
        match u {
            UnknownTagsArg::Error => schema_infer::UnknownTags::Error,
            UnknownTagsArg::Json => schema_infer::UnknownTags::Json,
        }
    }
}

/// Options shared by every command that reads an export.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The export: a file (.json, .ndjson, optionally .gz or .zst) or `-` for stdin.
    pub input: PathBuf,
    /// Input format; detected from the content when omitted.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Store name for NDJSON / JSON-array input (default: the file name).
    #[arg(long)]
    pub store: Option<String>,
    /// Pin field types from a schema document (as printed by `infer --json`).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// What a type conflict becomes.
    #[arg(long, value_enum, default_value = "json")]
    pub on_conflict: OnConflictArg,
    /// What an unknown typeson tag becomes.
    #[arg(long, value_enum, default_value = "error")]
    pub unknown_tags: UnknownTagsArg,
    /// Turn ISO-8601 string columns into timestamps.
    #[arg(long)]
    pub detect_timestamps: bool,
    /// Objects with more distinct keys than this become Map<Utf8, T>.
    #[arg(long, default_value_t = 200)]
    pub map_threshold: usize,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct InferArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Print a machine-readable schema document (usable with --schema).
    #[arg(long)]
    pub json: bool,
    /// List every widening: field, from → to, and the record that caused it.
    #[arg(long)]
    pub explain: bool,
}

#[cfg(feature = "sync")]
#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// The root of the synced tables: a folder or an hdfs:// URL (one Delta table per store: <ROOT>/<store>/).
    pub root: String,
    #[command(flatten)]
    pub hdfs: HdfsConfArgs,
    /// The primary key path of the records: `id`, `a.b`, `[a+b]` (default: the Dexie schema's).
    #[arg(long, value_name = "PATH")]
    pub key: Option<String>,
    /// The client sending the batch (with --batch: an idempotent batch).
    #[arg(long, value_name = "ID", requires = "batch")]
    pub client: Option<String>,
    /// The batch's sequence number: pushed again it changes nothing; an older one is refused.
    #[arg(long, value_name = "N", requires = "client")]
    pub batch: Option<i64>,
    /// The input is the whole store: delete the keys it lacks.
    #[arg(long)]
    pub mirror: bool,
    /// Partitioning of the tables this push creates, repeatable: a top-level column, or day(col) (a generated
    /// date column); a table that exists keeps its own (naming another is refused).
    #[arg(long = "partition-by", value_name = "TERM")]
    pub partition_by: Vec<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// For each column whose type the push changed: the value and record that caused it.
    #[arg(long)]
    pub explain: bool,
    /// No summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[cfg(feature = "sync")]
/// What `pull` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PullFormatArg {
    /// Records, then `{"_deleted": true, <key>}` lines, then `{"_checkpoint": N}`
    Ndjson,
    /// A Dexie export of the records (importInto with overwriteValues); the deleted keys and
    /// the checkpoint go to FILE.sync.json
    Dexie,
}

#[cfg(feature = "sync")]
impl From<PullFormatArg> for engine::PullFormat {
    fn from(f: PullFormatArg) -> Self {
        match f {
            PullFormatArg::Ndjson => engine::PullFormat::Ndjson,
            PullFormatArg::Dexie => engine::PullFormat::Dexie,
        }
    }
}

#[cfg(feature = "sync")]
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The root of the synced tables (as given to push).
    pub root: String,
    #[command(flatten)]
    pub hdfs: HdfsConfArgs,
    /// The table (store) to pull.
    #[arg(long)]
    pub table: String,
    /// Only the changes committed after this checkpoint (as push or an earlier pull printed).
    #[arg(long, value_name = "CHECKPOINT")]
    pub since: Option<i64>,
    /// The file to write (replaced atomically), or `-` for stdout (ndjson only).
    #[arg(long)]
    pub to: String,
    /// What to write.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: PullFormatArg,
    /// Print the summary (on stderr) as JSON.
    #[arg(long)]
    pub json: bool,
    /// No summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[cfg(feature = "sync")]
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The root of the synced tables (as given to push).
    pub root: String,
    #[command(flatten)]
    pub hdfs: HdfsConfArgs,
    /// The table (store).
    #[arg(long)]
    pub table: String,
    /// Only the newest N commits.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "sync")]
#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// The root of the synced tables (as given to push).
    pub root: String,
    #[command(flatten)]
    pub hdfs: HdfsConfArgs,
    /// Only this table (default: every synced table under ROOT).
    #[arg(long)]
    pub table: Option<String>,
    /// The size compacted files aim at (e.g. 128MB; default 100 MiB).
    #[arg(long, value_name = "SIZE")]
    pub target_size: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "sync")]
#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// The root of the synced tables (as given to push).
    pub root: String,
    #[command(flatten)]
    pub hdfs: HdfsConfArgs,
    /// Only this table (default: every synced table under ROOT).
    #[arg(long)]
    pub table: Option<String>,
    /// Keep the files versions of this age still need, in hours (default 168: 7 days).
    #[arg(long, value_name = "HOURS", default_value_t = 168.0)]
    pub retain_hours: f64,
    /// Accept a retention under one hour (only when no push is running).
    #[arg(long)]
    pub force: bool,
    /// Count the files that would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "sync")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the databases are: a local folder or hdfs://… (each database is a folder in it).
    #[arg(long)]
    pub root: String,
    #[command(flatten)]
    pub hdfs: HdfsConfArgs,
    /// The address to listen on (keep it on 127.0.0.1 behind a proxy, or use --tls-cert).
    #[arg(long, default_value = "127.0.0.1:8750")]
    pub listen: std::net::SocketAddr,
    /// The tokens file (`idbsync token new` makes it); re-read on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Let requests without a token pull, query and list tables (never push).
    #[arg(long)]
    pub allow_anonymous_read: bool,
    /// An origin browsers may call from (CORS), e.g. https://app.example.com; repeatable; `*` for any.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// The largest request body (e.g. 1GiB, 200MiB); larger ones get 413.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = crate::size::parse_size)]
    pub max_body: u64,
    /// TLS certificate chain (PEM); with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); with --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a client may take to send its request headers, or pause while sending a body.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// Pushes one token may have running at once (more get 429).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub pushes_per_token: usize,
    /// Pushes merged at once by the whole server; more wait their turn (bounds memory).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub max_merges: usize,
    /// Where request bodies are spooled while they arrive (default: the system's temp folder).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
}

#[cfg(feature = "sync")]
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token: its hash is appended to the tokens file, the token is printed once.
    New(TokenNewArgs),
}

#[cfg(feature = "sync")]
#[derive(Debug, Args)]
pub struct TokenNewArgs {
    /// The tokens file (created, mode 0600, when missing).
    #[arg(long, value_name = "FILE")]
    pub tokens: PathBuf,
    /// A database the token is for; repeatable.
    #[arg(long = "database", value_name = "NAME", required = true)]
    pub databases: Vec<String>,
    /// May pull, query and list tables.
    #[arg(long)]
    pub read: bool,
    /// May push.
    #[arg(long)]
    pub write: bool,
}
