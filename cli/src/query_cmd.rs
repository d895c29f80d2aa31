//! `idbsync query`, `idbsync tables` and `idbsync schema`: SQL previews over datasets.

use crate::args::{QueryArgs, QueryFormatArg, RootArgs, SchemaArgs, TablesArgs};
use crate::size::human;
use anyhow::{Context, Result};
use engine::AsOf;
use query::{OpenOptions, Session};
use std::io::Write;
use std::process::ExitCode;

/// Rows a table preview shows by default.
const PREVIEW_ROWS: usize = 20;

fn open(r: &RootArgs) -> Result<Session> {
    open_as_of(r, AsOf::Latest)
}

fn open_as_of(r: &RootArgs, as_of: AsOf) -> Result<Session> {
    Ok(Session::open(&r.root, &OpenOptions { allow_uncommitted: r.allow_uncommitted, storage: r.into(), as_of })?)
}

pub fn run(a: QueryArgs) -> Result<ExitCode> {
    let as_of = a.as_of.as_deref().map(str::parse).transpose().map_err(anyhow::Error::msg).context("--as-of")?;
    let session = open_as_of(&a.root, as_of.unwrap_or_default())?;
    #[cfg(feature = "sync")]
    if let Some(name) = &a.create {
        return crate::create_cmd::create(&session, &a, name);
    }
    let mut out = std::io::stdout().lock();
    if a.explain {
        let plan = session.explain(&a.sql)?;
        let text = arrow::util::pretty::pretty_format_batches(&plan)?;
        writeln!(out, "{text}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let limit = a.limit.unwrap_or(if matches!(a.format, QueryFormatArg::Table) { PREVIEW_ROWS } else { 0 });
    let p = session.preview(&a.sql, limit)?;
    query::write(&mut out, a.format.into(), &p.schema, &p.batches, p.total)?;
    Ok(ExitCode::SUCCESS)
}

pub fn tables(a: TablesArgs) -> Result<ExitCode> {
    let session = open(&a.root)?;
    let mut out = std::io::stdout().lock();
    let rows: Vec<serde_json::Value> = session
        .tables
        .iter()
        .map(|t| {
            serde_json::json!({
                "table": t.name,
                "rows": t.rows(),
                "files": t.files(),
                "bytes": t.bytes(),
                "format": t.format(),
                "partitions": t.partitions.iter().map(|(n, ty)| format!("{n} {ty}")).collect::<Vec<_>>(),
                "committed": t.committed,
                "path": if t.dir.is_empty() { ".".to_owned() } else { t.dir.clone() },
            })
        })
        .collect();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<24} {:>10} {:>6} {:>10}  {:<24} {:<11} {:<12} path",
        "table", "rows", "files", "bytes", "partitions", "state", "format"
    )?;
    for (t, r) in session.tables.iter().zip(&rows) {
        let parts: Vec<String> = t.partitions.iter().map(|(n, ty)| format!("{n} {ty}")).collect();
        writeln!(
            out,
            "{:<24} {:>10} {:>6} {:>10}  {:<24} {:<11} {:<12} {}",
            t.name,
            t.rows(),
            t.files(),
            human(r["bytes"].as_u64().unwrap_or(0)),
            if parts.is_empty() { "-".to_owned() } else { parts.join(", ") },
            if t.committed { "committed" } else { "uncommitted" },
            t.format(),
            r["path"].as_str().unwrap_or(".")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn schema(a: SchemaArgs) -> Result<ExitCode> {
    let session = open(&a.root)?;
    let t = session.tables.iter().find(|t| t.name == a.table).ok_or_else(|| {
        let names: Vec<&str> = session.tables.iter().map(|t| t.name.as_str()).collect();
        anyhow::anyhow!("no table '{}' under {}; tables: {}", a.table, a.root.root, names.join(", "))
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} ({} rows)", t.name, t.rows())?;
    crate::tree::write_schema(&mut out, &t.schema)?;
    for (name, ty) in &t.partitions {
        writeln!(out, "  {:<30} {:<22} partition column (from the folder names)", name, ty.to_string().to_lowercase())?;
    }
    Ok(ExitCode::SUCCESS)
}
