//! `idbsync history`, `idbsync optimize` and `idbsync vacuum`: a synced table's commits,
//! and keeping its files few and needed.

use crate::args::{HistoryArgs, OptimizeArgs, VacuumArgs};
use anyhow::{Context, Result};
use engine::StorageOptions;
use std::process::ExitCode;
use std::time::Duration;

pub fn history(a: HistoryArgs) -> Result<ExitCode> {
    let commits = engine::history(&a.root, &(&a.hdfs).into(), &a.table, a.limit)
        .with_context(|| format!("reading the history of table '{}' under {}", a.table, a.root))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&commits)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>7}  {:<24} {:<16} {:<14} {:>6} {:>9} {:>9} {:>9}",
        "version", "timestamp", "operation", "client", "batch", "inserted", "updated", "deleted"
    );
    let n = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    for c in &commits {
        println!(
            "{:>7}  {:<24} {:<16} {:<14} {:>6} {:>9} {:>9} {:>9}",
            c.version,
            c.timestamp.as_deref().unwrap_or("-"),
            c.operation,
            c.client.as_deref().unwrap_or("-"),
            c.batch.map_or_else(|| "-".to_owned(), |b| b.to_string()),
            n(c.rows_inserted),
            n(c.rows_updated),
            n(c.rows_deleted)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The tables a maintenance command works on: the one named, or every synced table.
fn tables(root: &str, storage: &StorageOptions, table: &Option<String>) -> Result<Vec<String>> {
    match table {
        Some(t) => Ok(vec![t.clone()]),
        None => {
            let all = engine::synced_tables(root, storage)?;
            anyhow::ensure!(!all.is_empty(), "no synced table under {root}");
            Ok(all)
        }
    }
}

pub fn optimize(a: OptimizeArgs) -> Result<ExitCode> {
    let target = a
        .target_size
        .as_deref()
        .map(crate::size::parse_size)
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("--target-size")?;
    let storage = StorageOptions::from(&a.hdfs);
    let mut reports = Vec::new();
    for t in tables(&a.root, &storage, &a.table)? {
        let r = engine::optimize(&a.root, &storage, &t, target).with_context(|| format!("optimizing table '{t}'"))?;
        if !a.json {
            println!(
                "{}: {} files; {} compacted into {}; checkpoint {}",
                r.table, r.files_before, r.files_removed, r.files_added, r.checkpoint
            );
        }
        reports.push(r);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn vacuum(a: VacuumArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        a.retain_hours.is_finite() && a.retain_hours >= 0.0,
        "--retain-hours must be a number of hours ≥ 0"
    );
    let retention = Duration::from_secs_f64(a.retain_hours * 3600.0);
    let storage = StorageOptions::from(&a.hdfs);
    let mut reports = Vec::new();
    for t in tables(&a.root, &storage, &a.table)? {
        let r = engine::vacuum(&a.root, &storage, &t, retention, a.force, a.dry_run)
            .with_context(|| format!("vacuuming table '{t}'"))?;
        if !a.json {
            let verb = if r.dry_run { "would delete" } else { "deleted" };
            println!("{}: {verb} {} files no version within {} h needs", r.table, r.files_deleted, a.retain_hours);
        }
        reports.push(r);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(ExitCode::SUCCESS)
}
