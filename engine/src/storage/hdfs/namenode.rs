//! Bounded NameNode calls. hdfs-native waits for a NameNode as long as the network lets
//! it (a hung NameNode, or a dropped connection attempt, can mean minutes or forever), so
//! the sink bounds every call itself, with Hadoop's names for the settings
//! (`--hdfs-conf KEY=VALUE`):
//!
//! - `ipc.client.rpc-timeout.ms` (default 60000; 0: no limit): how long one call may wait;
//! - `ipc.client.connect.max.retries` (default 3): how often a refused connection is tried
//!   again, `ipc.client.connect.retry.interval` ms apart (default 1000).
//!
//! A NameNode that cannot be reached is reported naming it, with the attempts and the time
//! spent. After that, later calls of the same sink (the clean-up of the failed job) are
//! tried once each, for at most 5 s.

use hdfs_native::{Client, HdfsError};
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Per-call timeout.
const RPC_TIMEOUT_KEY: &str = "ipc.client.rpc-timeout.ms";
/// Retries of a refused connection.
const RETRIES_KEY: &str = "ipc.client.connect.max.retries";
/// Pause between them, in ms.
const RETRY_INTERVAL_KEY: &str = "ipc.client.connect.retry.interval";
/// The per-call bound once the NameNode is known to be unreachable.
const UNREACHABLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long NameNode calls may take, and how often a refused one is tried again.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    timeout: Duration,
    retries: u32,
    interval: Duration,
}

impl Bounds {
    /// The bounds the client settings give (Hadoop's defaults but a 60 s timeout).
    pub(super) fn from_config(config: &[(String, String)]) -> io::Result<Bounds> {
        let get = |key: &str, default: u64| -> io::Result<u64> {
            match config.iter().rev().find(|(k, _)| k == key) {
                None => Ok(default),
                Some((_, v)) => v.trim().parse::<u64>().map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("--hdfs-conf {key}={v}: expected a whole number of milliseconds or retries"),
                    )
                }),
            }
        };
        let timeout = match get(RPC_TIMEOUT_KEY, 60_000)? {
            // Hadoop's 0 means "no timeout"; a day is as good as none for a command.
            0 => Duration::from_secs(86_400),
            ms => Duration::from_millis(ms),
        };
        let retries = get(RETRIES_KEY, 3)?.min(1_000) as u32;
        let interval = Duration::from_millis(get(RETRY_INTERVAL_KEY, 1_000)?);
        Ok(Bounds { timeout, retries, interval })
    }
}

/// Whether an error means that the other side could not be reached (rather than that it
/// answered with an error).
pub(super) fn is_unreachable(e: &HdfsError) -> bool {
    use io::ErrorKind::*;
    matches!(e, HdfsError::IOError(io) if matches!(
        io.kind(),
        ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | BrokenPipe | TimedOut
            | UnexpectedEof | HostUnreachable | NetworkUnreachable | AddrNotAvailable
    ))
}

/// A failed NameNode call.
pub(super) enum NnError {
    /// The NameNode could not be reached: the error says so, naming it and the path.
    Unreachable(io::Error),
    /// The NameNode's own answer (for the caller to interpret, e.g. "file not found").
    Answer(HdfsError),
}

/// The NameNode(s) of one sink: its calls' bounds, and whether it was found unreachable
/// (cleared by the next call that succeeds). Cheap to clone; clones share that state.
#[derive(Clone)]
pub(super) struct NameNode {
    rt: Arc<Runtime>,
    /// `hdfs://authority`, for messages.
    base: String,
    bounds: Bounds,
    down: Arc<AtomicBool>,
}

impl NameNode {
    pub(super) fn new(rt: Arc<Runtime>, base: String, bounds: Bounds) -> NameNode {
        NameNode { rt, base, bounds, down: Arc::default() }
    }

    /// `hdfs://authority`.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// Runs `call` (a NameNode call about `what`) within the bounds.
    pub(super) fn call<T, Fut>(&self, what: &str, call: impl Fn() -> Fut) -> Result<T, NnError>
    where
        Fut: Future<Output = Result<T, HdfsError>>,
    {
        let started = Instant::now();
        let known_down = self.down.load(Ordering::Relaxed);
        let limit = if known_down { self.bounds.timeout.min(UNREACHABLE_TIMEOUT) } else { self.bounds.timeout };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let res = self.rt.block_on(async {
                match tokio::time::timeout(limit, call()).await {
                    Ok(r) => r,
                    Err(_) => Err(HdfsError::IOError(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no answer within {:.1} s ({RPC_TIMEOUT_KEY})", limit.as_secs_f64()),
                    ))),
                }
            });
            let e = match res {
                Ok(v) => {
                    self.down.store(false, Ordering::Relaxed);
                    return Ok(v);
                }
                Err(e) if is_unreachable(&e) => e,
                Err(e) => return Err(NnError::Answer(e)),
            };
            // A refused connection reached nobody: trying again is safe.
            let refused = matches!(&e, HdfsError::IOError(io) if io.kind() == io::ErrorKind::ConnectionRefused);
            if refused && !known_down && attempts <= self.bounds.retries {
                std::thread::sleep(self.bounds.interval);
                continue;
            }
            self.down.store(true, Ordering::Relaxed);
            let tries = if known_down {
                "unreachable since an earlier call".to_owned()
            } else {
                let s = if attempts == 1 { "" } else { "s" };
                format!("{attempts} attempt{s} in {:.1} s", started.elapsed().as_secs_f64())
            };
            let e = super::io_error(e);
            let msg = format!("{what}: cannot reach the NameNode at {} ({tries}): {e}", self.base);
            return Err(NnError::Unreachable(io::Error::new(e.kind(), msg)));
        }
    }

    /// Whether the NameNode answers a call now (one try, at most 5 s); when it does not,
    /// it is known to be unreachable from then on.
    pub(super) fn answers(&self, client: &Client) -> bool {
        let ok = self.rt.block_on(async {
            matches!(
                tokio::time::timeout(UNREACHABLE_TIMEOUT, client.get_file_info("/")).await,
                Ok(Ok(_) | Err(HdfsError::FileNotFound(_)))
            )
        });
        self.down.store(!ok, Ordering::Relaxed);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_come_from_the_client_settings() {
        let conf = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let b = Bounds::from_config(&[]).unwrap();
        assert_eq!((b.timeout, b.retries, b.interval), (Duration::from_secs(60), 3, Duration::from_secs(1)));
        let b =
            Bounds::from_config(&conf(&[(RPC_TIMEOUT_KEY, "2500"), (RETRIES_KEY, "0"), (RETRY_INTERVAL_KEY, "10")]))
                .unwrap();
        assert_eq!((b.timeout, b.retries, b.interval), (Duration::from_millis(2500), 0, Duration::from_millis(10)));
        let b = Bounds::from_config(&conf(&[(RPC_TIMEOUT_KEY, "0")])).unwrap();
        assert!(b.timeout >= Duration::from_secs(3600), "{b:?}");
        let e = Bounds::from_config(&conf(&[(RPC_TIMEOUT_KEY, "soon")])).unwrap_err().to_string();
        assert!(e.contains("ipc.client.rpc-timeout.ms=soon"), "{e}");
    }

    /// A refused NameNode is tried again, then reported naming it; the calls after that
    /// (a failed job's clean-up) try once and say why, instead of waiting through the retries.
    #[test]
    fn a_refused_namenode_is_retried_then_reported_and_later_calls_fail_at_once() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("hdfs://127.0.0.1:{port}");
        let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap());
        let client = hdfs_native::ClientBuilder::new().with_url(&base).with_io_runtime(rt.handle().clone()).build();
        let client = client.unwrap();
        let bounds = Bounds { timeout: Duration::from_secs(5), retries: 2, interval: Duration::from_millis(200) };
        let nn = NameNode::new(rt, base.clone(), bounds);
        let started = Instant::now();
        let Err(NnError::Unreachable(e)) = nn.call("/x", || client.get_file_info("/x")) else { panic!("not refused") };
        let took = started.elapsed();
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("/x: cannot reach the NameNode at {base} (3 attempts in ")), "{msg}");
        assert!(msg.contains("refused"), "{msg}");
        assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(5), "{took:?}");
        let started = Instant::now();
        let Err(NnError::Unreachable(e)) = nn.call("/y", || client.get_file_info("/y")) else { panic!("not refused") };
        assert!(e.to_string().contains("(unreachable since an earlier call)"), "{e}");
        assert!(started.elapsed() < Duration::from_millis(400), "{:?}", started.elapsed());
        assert!(!nn.answers(&client));
    }
}
