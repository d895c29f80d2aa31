//! `idbsync serve`: the sync endpoint that browsers push to and pull from.
//!
//! Each `{database}` in a URL is a folder `<root>/<database>` holding one synced Delta
//! table per object store (as `idbsync push` keeps them). The routes:
//!
//! - `POST /v1/{database}/push`: a Dexie export or NDJSON of changes, streamed to a
//!   spool file (never held whole in memory), merged by [`engine::push`];
//!   `Idempotency-Key: <client>/<batch>` makes a retried batch change nothing.
//! - `GET /v1/{database}/pull?table=T&since=C&format=dexie|ndjson`: the changes since a
//!   checkpoint, streamed from [`engine::pull`].
//! - `POST /v1/{database}/query`, `GET /v1/{database}/tables`: read-only SQL previews.
//! - `GET /healthz`, `GET /metrics` (Prometheus text).
//!
//! Who may do what comes from a tokens file ([`auth`]); every error is JSON
//! `{error, detail}` ([`error`]) that names nothing of the server's paths.

pub mod auth;
pub mod error;
mod listen;
mod metrics;
mod names;
mod pull;
mod push;
mod query;
mod routes;
mod spool;
mod spool_dir;

pub use auth::{new_token, Access, TokenError};
pub use listen::{serve, ServeError, Server};
pub use routes::router;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the server runs (the flags of `idbsync serve`).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where the databases are: a local folder or `hdfs://…`.
    pub root: String,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The tokens file; `None` only with `allow_anonymous_read` (then nothing may write).
    pub tokens: Option<PathBuf>,
    /// Reads (pull, query, tables) without a token.
    pub allow_anonymous_read: bool,
    /// Origins a browser may call from (CORS); `*` for any (tokens are never cookies,
    /// so no request is made with credentials).
    pub allow_origins: Vec<String>,
    /// The largest request body, compressed or not (413 past it).
    pub max_body: u64,
    /// TLS certificate chain and private key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a request body may pause between two chunks (408 past it).
    pub body_timeout: Duration,
    /// Pushes one token may have running at once (429 past it).
    pub pushes_per_token: usize,
    /// Pushes the whole server merges at once; more wait their turn (in arrival order).
    /// Each merge holds its batch and its table's keys in memory: this bounds the memory.
    pub max_merges: usize,
    /// Where request bodies and responses are spooled (default: the system's temp dir):
    /// in a folder of this server's own, `idbsync-serve-<pid>-<random>/`, locked while
    /// it runs. Starting removes the folders of servers no longer running (killed ones).
    pub spool: Option<PathBuf>,
    /// How the root is opened: the HDFS client settings (`--hdfs-conf`) every push, pull,
    /// query and listing uses.
    pub storage: engine::StorageOptions,
}

impl ServeOptions {
    /// Defaults for `root` on `listen`: 1 GiB bodies, 30 s header and body timeouts,
    /// 4 pushes per token, 2 merges at once, no TLS, no CORS origins, tokens required.
    pub fn new(root: impl Into<String>, listen: SocketAddr) -> Self {
        ServeOptions {
            root: root.into(),
            listen,
            tokens: None,
            allow_anonymous_read: false,
            allow_origins: Vec::new(),
            max_body: 1 << 30,
            tls: None,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            pushes_per_token: 4,
            max_merges: 2,
            spool: None,
            storage: engine::StorageOptions::new(),
        }
    }
}
