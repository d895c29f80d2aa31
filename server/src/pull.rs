//! `GET /v1/{database}/pull?table=T[&since=C]&format=dexie|ndjson`: the changes since a
//! checkpoint, written by the engine's pull to an unnamed spool file and streamed from
//! there. A Dexie answer carries the deleted keys and the checkpoint in one extra
//! top-level member, `"idbsync": {table, since, checkpoint, key_path, deleted}`, which
//! stock `importInto` ignores; both formats give the checkpoint in `Idbsync-Checkpoint`.

use crate::auth::Access;
use crate::error::ApiError;
use crate::names::check_table;
use crate::push::engine_error;
use crate::routes::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use engine::{PullFormat, PullOptions};
use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

/// The query string of a pull.
#[derive(Debug, Deserialize)]
pub struct PullQuery {
    table: String,
    since: Option<i64>,
    format: Option<String>,
}

pub async fn pull(
    State(st): State<Arc<AppState>>,
    Path(db): Path<String>,
    Query(q): Query<PullQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    st.authorize(&headers, &db, Access::Read)?;
    check_table(&q.table).map_err(|why| ApiError::new(StatusCode::BAD_REQUEST, "bad_name", why))?;
    let format: PullFormat = q.format.as_deref().unwrap_or("ndjson").parse().map_err(ApiError::bad_request)?;
    if q.since.is_some_and(|s| s < 0) {
        return Err(ApiError::bad_request("since is a checkpoint: a number ≥ 0"));
    }
    let root = st.db_root(&db);
    let st2 = st.clone();
    let (file, report) = tokio::task::spawn_blocking(move || {
        let io = |e: std::io::Error| ApiError::internal(format!("the answer could not be spooled: {}", e.kind()));
        let mut f = tempfile::tempfile_in(&st2.spool).map_err(io)?;
        let opts = PullOptions::new().with_since(q.since).with_format(format).with_storage(st2.storage.clone());
        let report = engine::pull(&root, &q.table, &opts, &mut f).map_err(|e| engine_error(&st2, &e))?;
        if format == PullFormat::Dexie {
            embed_sidecar(&mut f, &report.sidecar()).map_err(io)?;
        }
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok::<_, ApiError>((f, report))
    })
    .await
    .map_err(|e| ApiError::internal(format!("the pull stopped: {e}")))??;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    st.metrics.bytes_out(len);
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let ct = match format {
        PullFormat::Dexie => "application/json",
        PullFormat::Ndjson => "application/x-ndjson",
    };
    Response::builder()
        .header(header::CONTENT_TYPE, ct)
        .header(header::CONTENT_LENGTH, len)
        .header("idbsync-checkpoint", report.checkpoint)
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Replaces the closing `}` of the Dexie export in `f` with `,"idbsync":<side>}`.
fn embed_sidecar(f: &mut std::fs::File, side: &serde_json::Value) -> std::io::Result<()> {
    let len = f.seek(SeekFrom::End(0))?;
    let tail = len.min(64);
    f.seek(SeekFrom::Start(len - tail))?;
    let mut buf = vec![0u8; tail as usize];
    f.read_exact(&mut buf)?;
    let close = buf
        .iter()
        .rposition(|&b| b == b'}')
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "the export does not end with '}'"))?;
    f.set_len(len - tail + close as u64)?;
    f.seek(SeekFrom::End(0))?;
    let text = serde_json::to_string(side).map_err(std::io::Error::other)?;
    write!(f, ",\"idbsync\":{text}}}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sidecar_goes_inside_the_export() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"{\"formatName\":\"dexie\",\"data\":{\"data\":[]}}\n").unwrap();
        embed_sidecar(&mut f, &serde_json::json!({"checkpoint": 3, "deleted": [1]})).unwrap();
        let mut s = String::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_string(&mut s).unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["idbsync"]["checkpoint"], 3);
        assert_eq!(v["formatName"], "dexie");
    }
}
