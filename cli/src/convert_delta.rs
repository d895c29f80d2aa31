//! `idbsync convert --table-format delta`: a first full snapshot of an export as one
//! synced Delta table per store, the tables that `push` then keeps current and `pull`
//! reads back. The snapshot is a push of the whole input: with `--mode error` (the
//! default) into a root without synced tables, with `--mode overwrite` as a mirror
//! (each table then holds exactly the input, in one commit), with `--mode append` as
//! upserts by key.

use crate::args::{ConvertArgs, ModeArg, OnInvalidArg};
use crate::infer_cmd;
use crate::interrupt;
use crate::sync_cmd::{partition_terms, print_push, with_spinner};
use anyhow::{Context, Result};
use engine::{KeyPath, PushOptions, StorageOptions};
use std::process::ExitCode;

pub fn run(a: &ConvertArgs) -> Result<ExitCode> {
    let unsupported: Vec<&str> = [
        (a.verify, "--verify"),
        (a.max_file_size.is_some(), "--max-file-size"),
        (matches!(a.on_invalid, OnInvalidArg::Fail), "--on-invalid fail"),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect();
    anyhow::ensure!(
        unsupported.is_empty(),
        "{} not supported with --table-format delta yet (rejected records are reported, as by push)",
        unsupported.join(", ")
    );
    let root = a.out.to_string_lossy().into_owned();
    let storage = StorageOptions::try_from(&a.hdfs)?;
    if matches!(a.mode, ModeArg::Error) {
        let there = engine::synced_tables(&root, &storage).unwrap_or_default();
        anyhow::ensure!(
            there.is_empty(),
            "{root} already has synced tables ({}): --mode overwrite replaces their content, \
             `idbsync push` merges changes into them",
            there.join(", ")
        );
    }
    let key = a.key.as_deref().map(KeyPath::parse).transpose().context("--key")?;
    let cancel = interrupt::install()?;
    let opts = PushOptions::new()
        .with_infer(infer_cmd::options(&a.read)?)
        .with_store(a.read.store.clone())
        .with_key(key)
        .with_mirror(matches!(a.mode, ModeArg::Overwrite))
        .with_cancel(cancel.clone())
        .with_storage(storage)
        .with_partition_by(partition_terms(&a.partition_by)?);
    let (opts, bar) = with_spinner(opts, a.quiet || a.json, &a.read.input);
    let res = engine::push(&a.read.input, &root, opts)
        .with_context(|| format!("converting {} into Delta tables under {root}", a.read.input.display()));
    bar.finish_and_clear();
    let report = interrupt::stopped(res, || "no table was changed by the stores not yet written".to_owned())?;
    interrupt::note_completed(&cancel, "commit");
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !a.quiet {
        print_push(&report, false);
    }
    Ok(ExitCode::SUCCESS)
}
