//! `idbsync push` and `idbsync pull`: synced Delta tables, merged by IndexedDB key.

use crate::args::{PullArgs, PushArgs};
use crate::infer_cmd;
use crate::interrupt;
use crate::progress::spinner;
use crate::size::human;
use anyhow::{Context, Result};
use engine::{
    KeyPath, PartitionField, PullFormat, PullOptions, PullReport, PushOptions, PushReport, PushStage, PushStatus,
};
use indicatif::ProgressBar;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Rejected records printed in full per table; `--json` lists more.
const SHOWN_REJECTS: usize = 5;

pub fn push(a: PushArgs) -> Result<ExitCode> {
    let key = a.key.as_deref().map(KeyPath::parse).transpose().map_err(anyhow::Error::msg).context("--key")?;
    let cancel = interrupt::install()?;
    let mut opts = PushOptions::new()
        .with_infer(infer_cmd::options(&a.read)?)
        .with_store(a.read.store.clone())
        .with_key(key)
        .with_mirror(a.mirror)
        .with_cancel(cancel.clone())
        .with_storage((&a.hdfs).into())
        .with_partition_by(partition_terms(&a.partition_by)?);
    if let (Some(client), Some(batch)) = (&a.client, a.batch) {
        opts = opts.with_batch(client, batch);
    }
    let (opts, bar) = with_spinner(opts, a.quiet || a.json, &a.read.input);
    let res = engine::push(&a.read.input, &a.root, opts)
        .with_context(|| format!("pushing {} into {}", a.read.input.display(), a.root));
    bar.finish_and_clear();
    let report = interrupt::stopped(res, || "no table was changed by the tables not yet merged".to_owned())?;
    interrupt::note_completed(&cancel, "merge");
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !a.quiet {
        print_push(&report, a.explain);
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--partition-by` terms (the engine says which ones synced tables take).
pub fn partition_terms(terms: &[String]) -> Result<Vec<PartitionField>> {
    terms.iter().map(|t| t.parse::<PartitionField>().map_err(anyhow::Error::msg).context("--partition-by")).collect()
}

/// `opts` with a spinner on stderr that shows the push's stages (none when `quiet`, with
/// `--json`, or when stderr is not a terminal); the caller clears it when the push ends.
pub fn with_spinner(opts: PushOptions, quiet: bool, input: &Path) -> (PushOptions, ProgressBar) {
    let bar = spinner(quiet);
    if bar.is_hidden() {
        return (opts, bar);
    }
    let (shown, input) = (bar.clone(), input.display().to_string());
    let opts = opts.with_progress(move |s| {
        if let Some(m) = stage_message(s, &input) {
            shown.set_message(m);
        }
    });
    (opts, bar)
}

/// The spinner's line for a stage of a push of `input` (`None`: keep the line shown).
fn stage_message(s: &PushStage, input: &str) -> Option<String> {
    Some(match s {
        PushStage::Reading => format!("reading {input}"),
        PushStage::Decoding { stores, records } => {
            format!("decoding {records} records of {stores} store{}", if *stores == 1 { "" } else { "s" })
        }
        PushStage::LookingUp { table } => format!("{table}: looking up the keys of its rows"),
        PushStage::Creating { table } => format!("{table}: creating the table"),
        PushStage::Writing { records } => format!("writing the new tables: {records} rows"),
        PushStage::Merging { table, upserts, deletes } => {
            format!("{table}: merging {upserts} upserts and {deletes} deletes, then committing")
        }
        PushStage::Retrying { table, attempt } => {
            format!("{table}: another writer committed first: attempt {attempt}")
        }
        PushStage::Done { table, checkpoint, .. } => format!("{table}: done, checkpoint {checkpoint}"),
        // A stage added to the engine later.
        _ => return None,
    })
}

/// The push summary; with `explain`, why each widened column changed type.
pub fn print_push(r: &PushReport, explain: bool) {
    println!(
        "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "table", "read", "upserted", "deleted", "unchanged", "rejected", "checkpoint"
    );
    for t in &r.tables {
        println!(
            "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
            t.table, t.read, t.upserted, t.deleted, t.unchanged, t.rejected, t.checkpoint
        );
    }
    for t in &r.tables {
        match (t.status, &r.batch) {
            (PushStatus::AlreadyApplied, Some((client, seq))) => println!(
                "{}: batch {seq} of client '{client}' was already applied: nothing changed (checkpoint {})",
                t.table, t.checkpoint
            ),
            (PushStatus::NoChange, _) => println!("{}: nothing to change: no commit", t.table),
            _ => {}
        }
        if t.created {
            println!("{}: created {}", t.table, t.location);
        }
        if t.attempts > 1 {
            println!(
                "{}: other writers committed first: applied on attempt {} against the table's new version",
                t.table, t.attempts
            );
        }
        if !t.new_columns.is_empty() {
            println!("{}: new columns: {}", t.table, t.new_columns.join(", "));
        }
        for w in &t.widened_columns {
            println!(
                "{}: column {} changed type: {} -> {} (values kept as they were pushed)",
                t.table, w.column, w.from, w.to
            );
            if let (true, Some(cause)) = (explain, &w.cause) {
                let at = w.record.map_or_else(String::new, |r| format!(", first at record {r} of the input"));
                println!("{}:   {cause}{at}", t.table);
            }
        }
        if !t.widened_columns.is_empty() {
            println!("{}: the table was rewritten in the push's commit ({} rows re-encoded)", t.table, t.rewritten);
        }
        if t.mirror_deleted > 0 {
            println!("{}: --mirror deleted {} rows whose keys the input lacks", t.table, t.mirror_deleted);
        }
        if t.superseded > 0 {
            println!(
                "{}: {} records were followed by a later one with the same key (counted unchanged)",
                t.table, t.superseded
            );
        }
        for rej in t.rejects.iter().take(SHOWN_REJECTS) {
            println!(
                "{}: rejected record {} (byte {}), field '{}': {}",
                t.table, rej.record, rej.offset, rej.path, rej.reason
            );
        }
        if let Some(f) = &t.rejects_file {
            println!("{}: every rejected record is kept in {f} (under the root)", t.table);
        }
        if t.rejected as usize > SHOWN_REJECTS {
            println!("{}: … {} rejected in all (--json lists the first {})", t.table, t.rejected, t.rejects.len());
        }
    }
}

pub fn pull(a: PullArgs) -> Result<ExitCode> {
    let format: PullFormat = a.format.into();
    if format == PullFormat::Dexie && a.to == "-" {
        anyhow::bail!("--format dexie writes the deleted keys beside the export (FILE.sync.json): give --to FILE");
    }
    let cancel = interrupt::install()?;
    let opts = PullOptions::new()
        .with_since(a.since)
        .with_format(format)
        .with_cancel(cancel.clone())
        .with_storage((&a.hdfs).into());
    let what = || format!("pulling table '{}' from {}", a.table, a.root);
    let res = if a.to == "-" {
        engine::pull(&a.root, &a.table, &opts, std::io::stdout()).with_context(what)
    } else {
        to_file(&a.to, |out| engine::pull(&a.root, &a.table, &opts, out)).with_context(what)
    };
    let report = interrupt::stopped(res, || format!("{} was not written", a.to))?;
    if a.to != "-" {
        interrupt::note_completed(&cancel, "final rename");
    }
    if format == PullFormat::Dexie {
        let side = format!("{}.sync.json", a.to);
        let text = serde_json::to_vec_pretty(&report.sidecar())?;
        std::fs::write(&side, text).with_context(|| format!("cannot write {side}"))?;
    }
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["deleted"] = serde_json::Value::from(report.deleted.len());
        eprintln!("{}", serde_json::to_string_pretty(&v)?);
    } else if !a.quiet {
        summary(&report, &a.to, format);
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(r: &PullReport, to: &str, format: PullFormat) {
    let dest = if to == "-" { "stdout" } else { to };
    let since = r.since.map_or_else(|| "the whole table".to_owned(), |s| format!("changes after checkpoint {s}"));
    eprintln!(
        "idbsync: '{}', {since}: {} records to upsert, {} keys deleted, written to {dest} ({})",
        r.table,
        r.upserts,
        r.deleted.len(),
        human(r.bytes)
    );
    if format == PullFormat::Dexie {
        eprintln!("idbsync: deleted keys and checkpoint in {to}.sync.json");
    }
    eprintln!("idbsync: checkpoint {}", r.checkpoint);
}

/// Runs `write` into a temporary file beside `to`, renamed over it when it succeeds.
fn to_file<T>(to: &str, write: impl FnOnce(&mut std::fs::File) -> Result<T, engine::Error>) -> Result<T> {
    let target = Path::new(to);
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".idbsync-pull.")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let out = write(tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    tmp.persist(target).with_context(|| format!("cannot write {to}"))?;
    Ok(out)
}
