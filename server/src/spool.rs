//! Request bodies go to a spool file as they arrive, so a push of any size takes the
//! memory of one chunk: the limit on size (413) and on pauses (408) are kept here, and
//! `Content-Encoding: gzip | zstd` is undone into a second file, held to the same limit.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::StatusCode;
use futures::StreamExt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is.
    Identity,
    /// `gzip`.
    Gzip,
    /// `zstd`.
    Zstd,
}

impl Encoding {
    /// From a `Content-Encoding` header (absent: identity).
    pub fn parse(h: Option<&str>) -> Result<Encoding, ApiError> {
        match h.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Ok(Encoding::Identity),
            Some("gzip") | Some("x-gzip") => Ok(Encoding::Gzip),
            Some("zstd") => Ok(Encoding::Zstd),
            Some(other) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_encoding",
                format!("Content-Encoding '{other}' is not supported (gzip, zstd or none)"),
            )),
        }
    }
}

pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body is larger than this server's limit of {limit} bytes (--max-body)"),
    )
}

/// Writes `body` to `path`; returns the bytes received.
pub async fn receive(body: Body, path: &Path, limit: u64, pause: Duration) -> Result<u64, ApiError> {
    let io = |e: std::io::Error| ApiError::internal(format!("the request body could not be spooled: {}", e.kind()));
    let mut f = tokio::fs::File::create(path).await.map_err(io)?;
    let mut stream = body.into_data_stream();
    let mut n = 0u64;
    loop {
        let next = tokio::time::timeout(pause, stream.next()).await.map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!("the request body paused for more than {} s", pause.as_secs()),
            )
        })?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            let text = e.to_string();
            // axum's own length limit (a Content-Length over it) comes here too.
            if text.contains("length limit") {
                too_large(limit)
            } else {
                ApiError::bad_request(format!("the request body could not be read: {text}"))
            }
        })?;
        n += chunk.len() as u64;
        if n > limit {
            return Err(too_large(limit));
        }
        f.write_all(&chunk).await.map_err(io)?;
    }
    f.flush().await.map_err(io)?;
    Ok(n)
}

/// Undoes `enc` of the file at `from` into `to` (blocking), at most `limit` bytes out.
pub fn decode(enc: Encoding, from: &Path, to: &Path, limit: u64) -> Result<PathBuf, ApiError> {
    let io = |e: std::io::Error| ApiError::internal(format!("the request body could not be spooled: {}", e.kind()));
    let src = std::fs::File::open(from).map_err(io)?;
    let mut reader: Box<dyn Read> = match enc {
        Encoding::Identity => return Ok(from.to_owned()),
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(src))),
        Encoding::Zstd => Box::new(
            zstd::stream::read::Decoder::new(src)
                .map_err(|e| ApiError::bad_request(format!("the zstd body could not be read: {e}")))?,
        ),
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(to).map_err(io)?);
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = reader
            .read(&mut buf)
            .map_err(|e| ApiError::bad_request(format!("the {enc:?} body could not be decoded: {e}")))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        if n > limit {
            return Err(too_large(limit));
        }
        out.write_all(&buf[..k]).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(to.to_owned())
}
