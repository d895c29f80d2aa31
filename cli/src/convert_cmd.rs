//! `idbsync convert` and `idbsync demo`.

use crate::args::{ConvertArgs, DemoArgs};
use crate::infer_cmd::options;
use crate::interrupt;
use crate::progress::bytes_bar;
use crate::size::{human, parse_size};
use anyhow::{Context, Result};
use engine::{
    Cancel, ConvertOptions, ConvertReport, LocalSink, Location, ParquetOptions, PartitionField, Phase, Sink,
    StorageOptions,
};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(a: ConvertArgs) -> Result<ExitCode> {
    if a.table_format == crate::args::TableFormatArg::Delta {
        #[cfg(feature = "sync")]
        return crate::convert_delta::run(&a);
        #[cfg(not(feature = "sync"))]
        anyhow::bail!("--table-format delta needs idbsync built with the `sync` feature");
    }
    anyhow::ensure!(a.key.is_none(), "--key applies to --table-format delta only");
    let partition_by = a
        .partition_by
        .iter()
        .map(|p| p.parse::<PartitionField>().map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()
        .context("--partition-by")?;
    let parquet = ParquetOptions {
        codec: a.compression.parse().map_err(anyhow::Error::msg).context("--compression")?,
        row_group_rows: a.row_group_rows.max(1),
        max_file_bytes: a.max_file_size.as_deref().map(parse_size).transpose().map_err(anyhow::Error::msg)?,
        ..ParquetOptions::default()
    };
    let out = a.out.to_string_lossy().into_owned();
    let sink = engine::open_sink(&Location::parse(&out)?, &StorageOptions::try_from(&a.hdfs)?)?;
    let cancel = interrupt::install()?;
    let opts = ConvertOptions::new()
        .with_cancel(cancel.clone())
        .with_infer(options(&a.read)?)
        .with_store(a.read.store.clone())
        .with_partition_by(partition_by)
        .with_parquet(parquet)
        .with_mode(a.mode.into())
        .with_on_invalid(a.on_invalid.into())
        .with_threads(a.read.threads)
        .with_verify(a.verify);
    let report = run_convert(&a.read.input, sink, &out, opts, &cancel, a.quiet)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_summary(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one conversion; an interrupt (`cancel`) before its commit is reported as
/// [`interrupt::Interrupted`].
fn run_convert(
    input: &Path,
    sink: Arc<dyn Sink>,
    out: &str,
    opts: ConvertOptions,
    cancel: &Cancel,
    quiet: bool,
) -> Result<ConvertReport> {
    let total = std::fs::metadata(input).ok().map(|m| m.len()).filter(|_| input != Path::new("-"));
    let bar = bytes_bar(total.unwrap_or(0), quiet);
    let started = std::time::Instant::now();
    let report = engine::convert(input, sink, opts, &|phase, n| {
        bar.set_prefix(match phase {
            Phase::Infer => "infer",
            Phase::Convert => "convert",
            Phase::Commit => "commit",
        });
        bar.set_position(n);
    })
    .with_context(|| format!("converting {} into {out}", input.display()));
    bar.finish_and_clear();
    let report = interrupt::stopped(report, || format!("nothing was committed to {out} (staging removed)"))?;
    interrupt::note_completed(cancel, "commit");
    if !quiet {
        eprintln!("idbsync: job {} done in {:.2} s", report.job_id, started.elapsed().as_secs_f64());
    }
    Ok(report)
}

fn print_summary(out: &mut impl Write, r: &ConvertReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<20} {:>10} {:>9} {:>8} {:>6} {:>10} {:>10} {:>6}",
        "store", "read", "written", "rejected", "files", "bytes in", "bytes out", "ratio"
    )?;
    for s in &r.stores {
        let ratio = if s.bytes_out > 0 { s.bytes_in as f64 / s.bytes_out as f64 } else { 0.0 };
        writeln!(
            out,
            "{:<20} {:>10} {:>9} {:>8} {:>6} {:>10} {:>10} {:>5.1}x",
            s.store,
            s.counts.read,
            s.counts.written,
            s.counts.rejected + s.counts.skipped,
            s.files,
            human(s.bytes_in),
            human(s.bytes_out),
            ratio
        )?;
    }
    let t = r.timings;
    writeln!(
        out,
        "time: infer {:.2} s, convert {:.2} s, commit {:.2} s",
        t.infer_ms as f64 / 1e3,
        t.convert_ms as f64 / 1e3,
        t.commit_ms as f64 / 1e3
    )?;
    for s in &r.stores {
        writeln!(out, "  {} -> {}", s.store, s.path)?;
    }
    Ok(())
}

/// Converts the bundled exports (testdata/fixtures) into a local folder.
pub fn demo(a: DemoArgs) -> Result<ExitCode> {
    let fixtures = a.fixtures.clone();
    anyhow::ensure!(
        fixtures.join("dexie-shop.json").exists(),
        "no bundled exports in {} (run from the repository root, or pass --fixtures DIR)",
        fixtures.display()
    );
    let cancel = interrupt::install()?;
    let mut out = std::io::stdout().lock();
    for (file, parts) in [("dexie-shop.json", vec!["day(created)"]), ("dexie-alltags.json", vec![])] {
        let input = fixtures.join(file);
        let dest = a.out.join(file.trim_end_matches(".json"));
        writeln!(
            out,
            "\n$ idbsync convert {} --out {} --mode overwrite{}",
            input.display(),
            dest.display(),
            parts.iter().map(|p| format!(" --partition-by '{p}'")).collect::<String>()
        )?;
        let opts = ConvertOptions::new()
            .with_cancel(cancel.clone())
            .with_mode(engine::Mode::Overwrite)
            .with_partition_by(parts.iter().map(|p| p.parse().expect("valid term")).collect());
        let sink = Arc::new(LocalSink::new(&dest));
        let report = run_convert(&input, sink, &dest.display().to_string(), opts, &cancel, true)?;
        print_summary(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}
