//! `GET /v1/{database}/tables` and `POST /v1/{database}/query`: what is there, and
//! read-only SQL previews over it with the same refusals as `idbsync query`.

use crate::auth::Access;
use crate::error::ApiError;
use crate::routes::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use engine::Location;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Rows a preview gives at most (a request may ask for fewer).
const MAX_ROWS: usize = 10_000;

pub async fn tables(
    State(st): State<Arc<AppState>>,
    Path(db): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    st.authorize(&headers, &db, Access::Read)?;
    let root = st.db_root(&db);
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || list_tables(&st2, &root))
        .await
        .map_err(|e| ApiError::internal(format!("the listing stopped: {e}")))?
        .map(Json)
}

/// The synced (Delta) tables and converted (Parquet) datasets of a database folder.
fn list_tables(st: &AppState, root: &str) -> Result<Value, ApiError> {
    let fail = |e: &(dyn std::error::Error + 'static)| ApiError::internal(st.describe(e));
    let location = Location::parse(root).map_err(|e| fail(&e))?;
    if let Location::Local(p) = &location {
        if !p.is_dir() {
            return Ok(json!({ "tables": [] }));
        }
    }
    let sink = engine::open_sink(&location, &st.storage).map_err(|e| fail(&e))?;
    let mut out = Vec::new();
    for e in sink.list("").map_err(|e| fail(&e))? {
        if !e.is_dir || e.name.starts_with(['_', '.']) {
            continue;
        }
        if engine::is_delta_dir(sink.as_ref(), &e.name) {
            let log = engine::join_path(&e.name, engine::DELTA_LOG);
            // The checkpoint is the newest commit file's version.
            let version = sink
                .list(&log)
                .unwrap_or_default()
                .iter()
                .filter_map(|f| f.name.strip_suffix(".json").and_then(|v| v.parse::<i64>().ok()))
                .max();
            out.push(json!({ "name": e.name, "kind": "delta", "checkpoint": version }));
        } else if sink.exists(&engine::join_path(&e.name, engine::SUCCESS)).unwrap_or(false) {
            out.push(json!({ "name": e.name, "kind": "parquet" }));
        }
    }
    Ok(json!({ "tables": out }))
}

/// The body of a query request.
#[derive(Debug, Deserialize)]
pub struct QueryBody {
    sql: String,
    limit: Option<usize>,
}

pub async fn query(
    State(st): State<Arc<AppState>>,
    Path(db): Path<String>,
    headers: HeaderMap,
    Json(body): Json<QueryBody>,
) -> Result<Json<Value>, ApiError> {
    st.authorize(&headers, &db, Access::Read)?;
    let root = st.db_root(&db);
    let limit = body.limit.unwrap_or(100).min(MAX_ROWS);
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || run_query(&st2, &root, &body.sql, limit))
        .await
        .map_err(|e| ApiError::internal(format!("the query stopped: {e}")))?
        .map(Json)
}

fn run_query(st: &AppState, root: &str, sql: &str, limit: usize) -> Result<Value, ApiError> {
    let refuse = |e: query::Error| {
        let detail = st.describe(&e);
        match e {
            query::Error::ReadOnly(_) => ApiError::new(StatusCode::FORBIDDEN, "read_only", detail),
            query::Error::Sql(_) | query::Error::UnknownTable { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_query", detail)
            }
            query::Error::Io(ref m) if m.contains("no idbsync dataset") || m.contains("no such folder") => {
                ApiError::new(StatusCode::NOT_FOUND, "no_table", detail)
            }
            _ => ApiError::internal(detail),
        }
    };
    // A statement that is not read-only is refused before anything is opened.
    query::check_read_only(sql).map_err(refuse)?;
    let session = query::Session::open(root, &query::OpenOptions { storage: st.storage.clone(), ..Default::default() })
        .map_err(refuse)?;
    let preview = session.preview(sql, limit).map_err(refuse)?;
    let columns: Vec<String> = preview.schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    for b in &preview.batches {
        w.write(b).map_err(|e| ApiError::internal(e.to_string()))?;
    }
    w.finish().map_err(|e| ApiError::internal(e.to_string()))?;
    let bytes = w.into_inner();
    let objects: Vec<serde_json::Map<String, Value>> = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(e.to_string()))?
    };
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|mut o| Value::Array(columns.iter().map(|c| o.remove(c).unwrap_or(Value::Null)).collect()))
        .collect();
    Ok(json!({ "columns": columns, "rows": rows, "total": preview.total }))
}
