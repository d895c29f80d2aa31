//! `idbsync query ROOT SQL --create NAME`: a SELECT materialised as the synced table NAME,
//! the processed result that browsers pull back.
//!
//! The result is written as a Dexie export (field tags kept, so Dates, binary and the
//! other typeson types stay typed) and pushed with `--mirror` under the result's key: the
//! first run creates the table, a re-run replaces it in one commit that holds exactly the
//! rows that changed (keys the new result lacks are deleted), so a browser's `pull --since`
//! gets only the difference.

use crate::args::QueryArgs;
use crate::sync_cmd::print_push;
use anyhow::{Context, Result};
use engine::{DownloadFormat, DownloadOptions, KeyPath, PushOptions};
use query::Session;
use std::process::ExitCode;

pub fn create(session: &Session, a: &QueryArgs, name: &str) -> Result<ExitCode> {
    let key_text = a.key.as_deref().unwrap_or("id");
    let key = KeyPath::parse(key_text).context("--key")?;
    let df = query::without_bookkeeping(session.sql(&a.sql)?)?;
    let schema = session.result_schema(&df);
    let parts = match &key {
        KeyPath::Inbound { parts, .. } => parts.clone(),
        KeyPath::OutOfLine => anyhow::bail!("--create {name}: the key must be a column path (`id`, `[a+b]`)"),
    };
    for path in &parts {
        let top = path.split('.').next().unwrap_or_default();
        anyhow::ensure!(
            schema.field_with_name(top).is_ok(),
            "--create {name}: the result has no column '{top}' for the key {key_text} (columns: {}); \
             select one or give --key",
            schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut export = tempfile::Builder::new().prefix("idbsync-create.").suffix(".json").tempfile()?;
    let opts = DownloadOptions::new().with_table_name(name).with_dexie_schema(key_text).with_inbound(true);
    engine::write_download(DownloadFormat::Dexie, schema, session.stream(df)?, &opts, export.as_file_mut())
        .with_context(|| format!("writing the result of the query for table '{name}'"))?;
    let push = PushOptions::new().with_key(Some(key)).with_mirror(true).with_storage((&a.root).into());
    let report = engine::push(export.path(), &a.root.root, push)
        .with_context(|| format!("creating table '{name}' under {}", a.root.root))?;
    let rejected: u64 = report.tables.iter().map(|t| t.rejected).sum();
    print_push(&report, false);
    anyhow::ensure!(
        rejected == 0,
        "{rejected} rows of the result were rejected (a null or missing key?): table '{name}' lacks them"
    );
    Ok(ExitCode::SUCCESS)
}
