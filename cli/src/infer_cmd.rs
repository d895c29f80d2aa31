//! `idbsync infer`.

use crate::args::{InferArgs, ReadArgs};
use crate::tree;
use anyhow::{Context, Result};
use schema_infer::{InferOptions, InferResult, SchemaDoc, META_DEXIE_SCHEMA};
use std::io::Write;
use std::process::ExitCode;

/// Builds inference options from the shared read arguments.
pub fn options(a: &ReadArgs) -> Result<InferOptions> {
    let pinned = match &a.schema {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("cannot read schema file {}", p.display()))?;
            Some(SchemaDoc::from_json(&text).with_context(|| format!("schema file {}", p.display()))?)
        }
        None => None,
    };
    Ok(InferOptions::new()
        .with_format(a.format.map(Into::into))
        .with_threads(a.threads)
        .with_detect_timestamps(a.detect_timestamps)
        .with_on_conflict(a.on_conflict.into())
        .with_unknown_tags(a.unknown_tags.into())
        .with_map_threshold(a.map_threshold)
        .with_pinned(pinned))
}

pub fn run(a: InferArgs) -> Result<ExitCode> {
    let opts = options(&a.read)?;
    let result = engine::infer_path(&a.read.input, opts, a.read.store.as_deref())?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", result.to_json())?;
    } else {
        print_human(&mut out, &result, a.explain)?;
    }
    for s in &result.stores {
        for w in &s.warnings {
            eprintln!("idbsync: warning: store '{}': {w}", s.name);
        }
        if s.invalid > 0 {
            eprintln!(
                "idbsync: warning: store '{}': {} invalid record(s) (not counted in the schema's rows)",
                s.name, s.invalid
            );
            for i in &s.issues {
                eprintln!("  record {} (byte {}), field '{}': {}", i.record, i.offset, i.path, i.reason);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_human(out: &mut impl Write, r: &InferResult, explain: bool) -> std::io::Result<()> {
    write!(out, "format: {}", r.format)?;
    if let Some(db) = &r.database {
        write!(out, "   database: {}", db.name.as_deref().unwrap_or("?"))?;
        if let Some(v) = db.version {
            write!(out, " (version {v})")?;
        }
    }
    writeln!(out, "   bytes: {}", r.bytes)?;
    for s in &r.stores {
        writeln!(out)?;
        write!(out, "store {}: {} rows", s.name, s.rows)?;
        if s.invalid > 0 {
            write!(out, ", {} invalid", s.invalid)?;
        }
        if let Some(k) = s.schema.metadata().get(META_DEXIE_SCHEMA) {
            write!(out, "   dexie schema \"{k}\"")?;
        }
        writeln!(out)?;
        tree::write_schema(out, &s.schema)?;
        if explain {
            if s.widenings.is_empty() {
                writeln!(out, "  widenings: none")?;
            } else {
                writeln!(out, "  widenings:")?;
                for w in &s.widenings {
                    writeln!(
                        out,
                        "    {}: {} -> {} ({} first at record {}, byte {})",
                        w.path, w.from, w.to, w.cause, w.record, w.offset
                    )?;
                }
            }
        }
    }
    Ok(())
}
