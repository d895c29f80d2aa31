//! Every error answer is JSON `{"error": <short code>, "detail": <sentence>}` with the
//! status that fits. Details come from the engine's errors with the server's own paths
//! (the root, the spool) replaced, so nothing of the server's layout or credentials
//! leaks (the engine's errors already redact credentials in URLs).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short machine-readable code (`unauthorized`, `too_large` …).
    pub error: &'static str,
    /// What happened, for a person.
    pub detail: String,
}

impl ApiError {
    /// An error with `status`, `code` and `detail`.
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        ApiError { status, error, detail: detail.into() }
    }
    /// 400.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }
    /// 500, with a detail that names no server path.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "detail": self.detail });
        (self.status, Json(body)).into_response()
    }
}

/// The chain of `e` and its sources as one sentence, with each of `hide` (server paths,
/// as `(text, replacement)`) replaced.
pub fn describe(e: &(dyn std::error::Error + 'static), hide: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        let s = x.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = x.source();
    }
    let mut text = parts.join(": ");
    for (what, with) in hide {
        if !what.is_empty() {
            text = text.replace(what, with);
        }
    }
    text
}
