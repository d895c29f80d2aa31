//! Command-line arguments. These types stay in the binary: they convert into the
//! libraries' own types with `From`.

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
