//! `idbsync put` and `idbsync get`: copy a dataset tree to or from HDFS.

use crate::args::TransferArgs;
use crate::interrupt;
use crate::progress::bytes_bar;
use crate::size::human;
use anyhow::{Context, Result};
use engine::{copy_tree, open_sink, Location, StorageOptions, TransferOptions};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which way a copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Local folder to HDFS.
    Put,
    /// HDFS to a local folder.
    Get,
}

pub fn run(a: TransferArgs, dir: Direction) -> Result<ExitCode> {
    let (from_hdfs, to_hdfs) = (engine::is_hdfs_url(&a.from), engine::is_hdfs_url(&a.to));
    match dir {
        Direction::Put => anyhow::ensure!(
            !from_hdfs && to_hdfs,
            "put copies a local folder to hdfs://…: `idbsync put <LOCAL_DIR> <hdfs://nn:port/path>`"
        ),
        Direction::Get => anyhow::ensure!(
            from_hdfs && !to_hdfs,
            "get copies from hdfs://… to a local folder: `idbsync get <hdfs://nn:port/path> <LOCAL_DIR>`"
        ),
    }
    let storage = StorageOptions::try_from(&a.hdfs)?;
    let src = open_sink(&Location::parse(&a.from)?, &storage)?;
    let (parent, name) = Location::parse(&a.to)?.parent()?;
    let dst = open_sink(&parent, &storage)?;
    let cancel = interrupt::install()?;
    let opts =
        TransferOptions { update: a.update, verify: !a.no_verify, parallel: a.parallel.max(1), cancel: Some(&cancel) };
    let bar = bytes_bar(0, a.quiet);
    bar.set_prefix(if dir == Direction::Put { "put" } else { "get" });
    let done = AtomicU64::new(0);
    let started = std::time::Instant::now();
    let job = engine::new_job_id();
    let report = copy_tree(src.as_ref(), "", dst.as_ref(), &name, &job, opts, &|n| {
        bar.set_position(done.fetch_add(n, Ordering::Relaxed) + n);
    })
    .with_context(|| format!("copying {} to {}", a.from, a.to));
    bar.finish_and_clear();
    let report = interrupt::stopped(report, || format!("nothing was published to {} (staging removed)", a.to))?;
    interrupt::note_completed(&cancel, "publishing");
    let secs = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(
            out,
            "{} files: {} copied ({}), {} unchanged, in {secs:.2} s ({}/s){}",
            report.files,
            report.copied,
            human(report.bytes),
            report.unchanged,
            human((report.bytes as f64 / secs.max(1e-9)) as u64),
            if opts.verify { ", each read back and checked by CRC32C" } else { "" }
        )?;
        writeln!(out, "  -> {}", report.destination)?;
    }
    Ok(ExitCode::SUCCESS)
}
