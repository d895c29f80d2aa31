//! `POST /v1/{database}/push`: the body (a Dexie export, or NDJSON of one table) is
//! spooled to disk as it arrives, then merged by the engine's push, one Delta commit per
//! table. `Idempotency-Key: <client>/<batch>` is push's `--client/--batch`.

use crate::auth::Access;
use crate::error::ApiError;
use crate::names::check_table;
use crate::routes::AppState;
use crate::spool::{self, Encoding};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use engine::{KeyPath, PushOptions, PushStatus};
use schema_infer::{Format, InferOptions};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// The query string of a push.
#[derive(Debug, Deserialize)]
pub struct PushQuery {
    /// The table, for NDJSON bodies (one table per request).
    table: Option<String>,
    /// The key path (`id`, `[a+b]`), for NDJSON bodies.
    key: Option<String>,
}

/// `<client>/<batch>`: client 1–128 of `A-Z a-z 0-9 _ - . :`, batch a number ≥ 0.
fn idempotency(headers: &HeaderMap) -> Result<Option<(String, i64)>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    let bad = || ApiError::bad_request("Idempotency-Key is '<client>/<batch>': a client id and a batch number ≥ 0");
    let v = v.to_str().map_err(|_| bad())?;
    let (client, batch) = v.rsplit_once('/').ok_or_else(bad)?;
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    if client.is_empty() || client.len() > 128 || !client.chars().all(ok) {
        return Err(bad());
    }
    let batch: i64 = batch.parse().map_err(|_| bad())?;
    if batch < 0 {
        return Err(bad());
    }
    Ok(Some((client.to_owned(), batch)))
}

fn is_ndjson(headers: &HeaderMap) -> bool {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(ct.as_str(), "application/x-ndjson" | "application/jsonl" | "application/ndjson" | "application/jsonlines")
}

pub async fn push(
    State(st): State<Arc<AppState>>,
    Path(db): Path<String>,
    Query(q): Query<PushQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let who = st.authorize(&headers, &db, Access::Write)?;
    let batch = idempotency(&headers)?;
    let ndjson = is_ndjson(&headers);
    if let Some(t) = &q.table {
        check_table(t).map_err(|why| ApiError::new(StatusCode::BAD_REQUEST, "bad_name", why))?;
    }
    if ndjson && q.table.is_none() {
        return Err(ApiError::bad_request("an NDJSON push names its table: ?table=NAME&key=KEYPATH"));
    }
    let key =
        q.key.as_deref().map(KeyPath::parse).transpose().map_err(|why| ApiError::bad_request(format!("key: {why}")))?;
    let enc = Encoding::parse(headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()))?;
    let _slot = st.push_slot(&who)?;

    let dir = tempfile::Builder::new()
        .prefix("idbsync-push-")
        .tempdir_in(&st.spool)
        .map_err(|e| ApiError::internal(format!("the request body could not be spooled: {}", e.kind())))?;
    // The name tells the reader the format; the store name comes from `table` anyway.
    let name = if ndjson { "body.ndjson" } else { "body.json" };
    let raw = dir.path().join(if enc == Encoding::Identity { name } else { "body.encoded" });
    let received = spool::receive(body, &raw, st.max_body, st.body_timeout).await?;
    st.metrics.bytes_in(received);

    // The body is spooled; the merge waits for its turn (memory stays bounded however
    // many clients push at once).
    let _merge = st.merges.clone().acquire_owned().await.map_err(|_| ApiError::internal("the server is stopping"))?;
    let root = st.db_root(&db);
    let st2 = st.clone();
    let batch2 = batch.clone();
    let res = tokio::task::spawn_blocking(move || {
        let path = spool::decode(enc, &raw, &dir.path().join(name), st2.max_body)?;
        let mut infer = InferOptions::default();
        if ndjson {
            infer = infer.with_format(Some(Format::Ndjson));
        }
        let mut opts = PushOptions::new()
            .with_infer(infer)
            .with_store(q.table.clone())
            .with_key(key)
            .with_storage(st2.storage.clone());
        if let Some((client, seq)) = &batch2 {
            opts = opts.with_batch(client, *seq);
        }
        let r = engine::push(&path, &root, opts).map_err(|e| engine_error(&st2, &e));
        drop(dir);
        r
    })
    .await
    .map_err(|e| ApiError::internal(format!("the push stopped: {e}")))??;

    let mut committed = 0;
    for t in &res.tables {
        st.metrics.rows(t.upserted, t.deleted);
        committed += u64::from(t.status == PushStatus::Committed);
    }
    st.metrics.commits(committed);
    let applied_before = !res.tables.is_empty() && res.tables.iter().all(|t| t.status == PushStatus::AlreadyApplied);
    let mut v = serde_json::to_value(&res).map_err(|e| ApiError::internal(e.to_string()))?;
    // The tables' locations are the server's business.
    if let Some(ts) = v.get_mut("tables").and_then(Value::as_array_mut) {
        for t in ts {
            if let Some(o) = t.as_object_mut() {
                o.remove("location");
            }
        }
    }
    if let Some((client, seq)) = &batch {
        let key = format!("{db}\u{0}{client}\u{0}{seq}");
        if applied_before {
            // A retry (its first answer was lost): the first answer again, marked.
            if let Some(mut first) = st.result_of(&key) {
                first["replayed"] = Value::Bool(true);
                return Ok(Json(first));
            }
        } else {
            st.keep_result(key, v.clone());
        }
    }
    Ok(Json(v))
}

/// The answer for an engine error: 409 for a refused batch, 400 for a body that cannot
/// be read or does not fit, 503 when stopped, else 500; the text without server paths.
pub(crate) fn engine_error(st: &AppState, e: &engine::Error) -> ApiError {
    let detail = st.describe(e);
    match e {
        engine::Error::Sync { reason, .. } if reason.contains("older than batch") => {
            st.metrics.conflict();
            ApiError::new(StatusCode::CONFLICT, "batch_refused", detail)
        }
        engine::Error::Sync { reason, .. } if reason.contains("there is no synced table") => {
            ApiError::new(StatusCode::NOT_FOUND, "no_table", detail)
        }
        engine::Error::Sync { .. } => ApiError::new(StatusCode::BAD_REQUEST, "refused", detail),
        engine::Error::Infer { .. } | engine::Error::Invalid { .. } | engine::Error::Read { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_body", detail)
        }
        engine::Error::Cancelled => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", detail),
        // Other writers kept committing first: nothing of the batch is in that table; the
        // same batch sent again is applied (or found applied) then.
        engine::Error::Contended { .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "contended", detail),
        _ => ApiError::internal(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_client_slash_batch() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert("idempotency-key", v.parse().unwrap());
            idempotency(&m)
        };
        assert_eq!(h("tab-1/7").unwrap(), Some(("tab-1".into(), 7)));
        assert_eq!(h("a/b/3").unwrap_err().status, StatusCode::BAD_REQUEST);
        for bad in ["x", "/3", "c/-1", "c/x", "c d/1"] {
            assert!(h(bad).is_err(), "{bad}");
        }
        assert_eq!(idempotency(&HeaderMap::new()).unwrap(), None);
    }
}
