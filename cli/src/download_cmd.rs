//! `idbsync download`: a whole store written as a Dexie export (for dexie-export-import's
//! importDB / importInto), NDJSON, CSV or Parquet, to a file or stdout.

use crate::args::DownloadArgs;
use crate::interrupt;
use crate::size::human;
use anyhow::{Context, Result};
use engine::{
    download_store, write_download, DownloadOptions, DownloadReport, Location, ParquetOptions, ReadOptions,
    StorageOptions, StoreReader,
};
use std::path::Path;
use std::process::ExitCode;

/// Warnings printed in full; the rest are counted.
const SHOWN_WARNINGS: usize = 20;

pub fn run(a: DownloadArgs) -> Result<ExitCode> {
    let parquet = ParquetOptions {
        codec: a.compression.parse().map_err(anyhow::Error::msg).context("--compression")?,
        ..ParquetOptions::default()
    };
    let cancel = interrupt::install()?;
    let mut opts = DownloadOptions::new().with_parquet(parquet).with_cancel(cancel.clone());
    if let Some(d) = &a.database {
        opts = opts.with_database_name(d);
    }
    if let Some(v) = a.db_version {
        opts = opts.with_database_version(v);
    }
    if let Some(s) = &a.dexie_schema {
        opts = opts.with_dexie_schema(s);
    }
    let format = a.format.into();
    let report = interrupt::stopped(download(&a, format, opts), || {
        if a.to == "-" {
            "the output on stdout is incomplete".to_owned()
        } else {
            format!("{} was not written (its temporary file was removed)", a.to)
        }
    })?;
    interrupt::note_completed(&cancel, "final rename");
    if a.json {
        eprintln!("{}", serde_json::to_string_pretty(&report)?);
    } else if !a.quiet {
        summary(&report, &a.to);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the store or the query result of `a` to `a.to`.
fn download(a: &DownloadArgs, format: engine::DownloadFormat, opts: DownloadOptions) -> Result<DownloadReport> {
    let storage = StorageOptions::from(&a.root);
    Ok(match (&a.table, &a.sql) {
        (Some(table), None) => {
            let sink = engine::open_sink(&Location::parse(&a.root.root)?, &storage)?;
            #[cfg(feature = "sync")]
            if engine::is_delta_dir(sink.as_ref(), &engine::store_dir_name(table)) {
                let what = || format!("downloading synced table '{table}' under {} as {format}", a.root.root);
                return to_file(&a.to, |out| {
                    engine::download_synced(&a.root.root, table, format, &opts, &storage, out)
                })
                .with_context(what);
            }
            let read = ReadOptions::new().with_allow_uncommitted(a.root.allow_uncommitted);
            let store = StoreReader::open(sink, table, &read)?;
            if !store.committed() && !a.quiet {
                eprintln!(
                    "idbsync: warning: {} is not committed (no _SUCCESS): downloading the files its manifest lists",
                    store.location()
                );
            }
            let what = || format!("downloading store '{table}' from {} as {format}", store.location());
            to_file(&a.to, |out| download_store(&store, format, &opts, out)).with_context(what)?
        }
        (None, Some(sql)) => {
            // Columns that come straight from stored columns keep their typeson tags (DataFusion
            // carries field metadata through projections); computed columns are plain values.
            let session = query::Session::open(
                &a.root.root,
                &query::OpenOptions { allow_uncommitted: a.root.allow_uncommitted, storage, ..Default::default() },
            )?;
            // The bookkeeping columns of synced tables are not the records' fields.
            let df = query::without_bookkeeping(session.sql(sql)?)?;
            let schema = session.result_schema(&df);
            let opts = opts.with_table_name(&a.table_name);
            let what = || format!("downloading the result of --sql as table '{}' ({format})", a.table_name);
            let batches = session.stream(df)?;
            to_file(&a.to, |out| write_download(format, schema, batches, &opts, out)).with_context(what)?
        }
        _ => anyhow::bail!("give either --table STORE or --sql SQL"),
    })
}

/// Runs `write` into stdout (`-`) or into a file written beside `to` and renamed over it,
/// so that a failure leaves no partial file.
fn to_file(
    to: &str,
    write: impl FnOnce(&mut (dyn std::io::Write + Send)) -> Result<DownloadReport, engine::Error>,
) -> Result<DownloadReport> {
    if to == "-" {
        return Ok(write(&mut std::io::stdout())?);
    }
    let target = Path::new(to);
    let name = target.file_name().with_context(|| format!("--to {to}: needs a file name"))?;
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".idbsync-tmp");
    #[cfg(unix)]
    {
        // An ordinary file (0666 less the umask), not the private 0600 of a temporary one.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).with_context(|| format!("cannot create a file in {}", dir.display()))?;
    // On failure `tmp` is dropped, which removes it: no partial file is left.
    let report = write(tmp.as_file_mut()).with_context(|| format!("writing {to}"))?;
    tmp.as_file().sync_all().with_context(|| format!("cannot write {to}"))?;
    tmp.persist(target).with_context(|| format!("cannot write {to}"))?;
    Ok(report)
}

fn summary(r: &DownloadReport, to: &str) {
    let dest = if to == "-" { "stdout" } else { to };
    eprintln!("idbsync: {} rows of '{}' written as {} to {dest} ({})", r.rows, r.table, r.format, human(r.bytes));
    for w in r.warnings.iter().take(SHOWN_WARNINGS) {
        eprintln!("idbsync: warning: {w}");
    }
    let more = r.warnings.len().saturating_sub(SHOWN_WARNINGS) as u64 + r.warnings_omitted;
    if more > 0 {
        eprintln!("idbsync: warning: … and {more} more (--json lists the first {})", r.warnings.len());
    }
}
