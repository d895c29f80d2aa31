//! The router, its shared state, and the checks every database route makes first
//! (the name, then the token).

use crate::auth::{Access, Tokens};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::names::check_database;
use crate::spool_dir::SpoolDir;
use crate::{pull, push, query, ServeOptions};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Results of batches kept to answer a retried one with what it first got.
const KEPT_RESULTS: usize = 4096;

/// What every handler shares.
pub struct AppState {
    pub(crate) root: String,
    pub(crate) tokens_path: Option<PathBuf>,
    pub(crate) tokens: RwLock<Tokens>,
    pub(crate) anonymous_read: bool,
    pub(crate) max_body: u64,
    pub(crate) body_timeout: Duration,
    pub(crate) pushes_per_token: usize,
    push_slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// The merges running (a fair semaphore: waiting pushes take turns in arrival order).
    pub(crate) merges: Arc<Semaphore>,
    /// This server's folder in the spool folder (`spool_dir`'s path).
    pub(crate) spool: PathBuf,
    /// The spool folder given (`--spool`, or the temp folder).
    spool_parent: PathBuf,
    /// Holds this server's spool folder (removed when the state goes).
    _spool_dir: SpoolDir,
    /// Spool folders of servers no longer running that starting this one removed.
    pub(crate) stale_removed: usize,
    pub(crate) storage: engine::StorageOptions,
    pub(crate) metrics: Metrics,
    results: Mutex<VecDeque<(String, serde_json::Value)>>,
}

/// Who made a request: a token's id, or nobody (anonymous reads).
#[derive(Debug, Clone)]
pub struct Who(pub Option<String>);

impl AppState {
    /// The state for `opts`: reads the tokens file, makes this server's spool folder in
    /// the spool folder (which must exist), and removes those of servers no longer running.
    pub fn new(opts: &ServeOptions) -> Result<AppState, crate::ServeError> {
        let tokens = match &opts.tokens {
            Some(p) => Tokens::load(p)?,
            None => Tokens::default(),
        };
        let spool_parent = opts.spool.clone().unwrap_or_else(std::env::temp_dir);
        if !spool_parent.is_dir() {
            return Err(crate::ServeError::Setup(format!("spool folder {} does not exist", spool_parent.display())));
        }
        let (spool_dir, stale_removed) = SpoolDir::create(&spool_parent)
            .map_err(|e| crate::ServeError::Setup(format!("spool folder {}: {e}", spool_parent.display())))?;
        Ok(AppState {
            root: opts.root.trim_end_matches('/').to_owned(),
            tokens_path: opts.tokens.clone(),
            tokens: RwLock::new(tokens),
            anonymous_read: opts.allow_anonymous_read,
            max_body: opts.max_body,
            body_timeout: opts.body_timeout,
            pushes_per_token: opts.pushes_per_token.max(1),
            push_slots: Mutex::new(HashMap::new()),
            merges: Arc::new(Semaphore::new(opts.max_merges.max(1))),
            spool: spool_dir.path().to_owned(),
            spool_parent,
            _spool_dir: spool_dir,
            stale_removed,
            storage: opts.storage.clone(),
            metrics: Metrics::default(),
            results: Mutex::new(VecDeque::new()),
        })
    }

    /// Re-reads the tokens file (SIGHUP); the old tokens stay if it cannot be read.
    pub fn reload_tokens(&self) -> Result<usize, crate::auth::TokenError> {
        let Some(p) = &self.tokens_path else { return Ok(0) };
        let t = Tokens::load(p)?;
        let n = t.len();
        *self.tokens.write().expect("tokens lock") = t;
        Ok(n)
    }

    /// The location of database `db`.
    pub(crate) fn db_root(&self, db: &str) -> String {
        format!("{}/{db}", self.root)
    }

    /// Replaces the server's own paths in an error's text.
    pub(crate) fn describe(&self, e: &(dyn std::error::Error + 'static)) -> String {
        let spool = self.spool_parent.display().to_string();
        crate::error::describe(e, &[(&self.root, "<root>"), (&spool, "<spool>")])
    }

    /// Checks `db`'s name and that the request's token may `access` it.
    pub(crate) fn authorize(&self, headers: &HeaderMap, db: &str, access: Access) -> Result<Who, ApiError> {
        check_database(db).map_err(|why| ApiError::new(StatusCode::BAD_REQUEST, "bad_name", why))?;
        let token = match headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("")) {
            None => None,
            Some(h) => match h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) {
                Some(t) if !t.trim().is_empty() => Some(t.trim()),
                _ => return Err(unauthorized("the Authorization header is not 'Bearer <token>'")),
            },
        };
        let Some(token) = token else {
            if access == Access::Read && self.anonymous_read {
                return Ok(Who(None));
            }
            return Err(unauthorized("a token is needed: Authorization: Bearer <token>"));
        };
        let tokens = self.tokens.read().expect("tokens lock");
        let grant = tokens.find(token).ok_or_else(|| unauthorized("the token is not valid"))?;
        if !grant.allows(db, access) {
            let what = if access == Access::Read { "read" } else { "write" };
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token may not {what} database '{db}'"),
            ));
        }
        Ok(Who(Some(grant.id.clone())))
    }

    /// One of the pushes `who` may have running at once; 429 when all are taken.
    pub(crate) fn push_slot(&self, who: &Who) -> Result<OwnedSemaphorePermit, ApiError> {
        let id = who.0.clone().unwrap_or_default();
        let sem = self
            .push_slots
            .lock()
            .expect("slots lock")
            .entry(id)
            .or_insert_with(|| Arc::new(Semaphore::new(self.pushes_per_token)))
            .clone();
        sem.try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_pushes",
                format!("this token has {} pushes running: retry when one has finished", self.pushes_per_token),
            )
        })
    }

    /// What batch `key` answered first, if it is still kept.
    pub(crate) fn result_of(&self, key: &str) -> Option<serde_json::Value> {
        self.results.lock().expect("results lock").iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// Keeps what batch `key` answered.
    pub(crate) fn keep_result(&self, key: String, v: serde_json::Value) {
        let mut r = self.results.lock().expect("results lock");
        if r.len() >= KEPT_RESULTS {
            r.pop_front();
        }
        r.push_back((key, v));
    }
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
}

/// The router of every route, with CORS for `origins`.
pub fn router(state: Arc<AppState>, origins: &[String]) -> Router {
    let cors = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::HeaderName::from_static("idbsync-checkpoint")])
        .max_age(Duration::from_secs(600))
        .allow_origin(if origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        });
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/v1/{database}/push", post(push::push))
        .route("/v1/{database}/pull", get(pull::pull))
        .route("/v1/{database}/query", post(query::query))
        .route("/v1/{database}/tables", get(query::tables))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(cors)
        .with_state(state)
}

async fn metrics(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.metrics.render())
}

/// Counts every request and logs it (method, route, status, time: never a header).
async fn observe(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map_or("-", |m| m.as_str()).to_owned();
    let method = req.method().clone();
    let res = next.run(req).await;
    let took = started.elapsed();
    st.metrics.request(&route, res.status().as_u16(), took);
    eprintln!("idbsync serve: {method} {route} {} {:.1} ms", res.status().as_u16(), took.as_secs_f64() * 1e3);
    res
}
