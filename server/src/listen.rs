//! Listening: HTTP/1.1 and HTTP/2 (negotiated by ALPN over TLS, by preface in clear),
//! a timeout on request headers, TLS by rustls, and a graceful stop: no new connection
//! is taken, and requests in flight finish (a push commits or leaves its tables as they
//! were: each table's commit is one atomic Delta commit).

use crate::auth::TokenError;
use crate::routes::{router, AppState};
use crate::ServeOptions;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How long a graceful stop waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(120);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The tokens file cannot be read.
    #[error(transparent)]
    Tokens(#[from] TokenError),
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The root or the spool folder cannot be used.
    #[error("{0}")]
    Setup(String),
    /// Signals cannot be handled.
    #[error("cannot handle signals")]
    Signals(#[source] std::io::Error),
}

/// A bound server, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    app: axum::Router,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
}

impl Server {
    /// Checks the options, reads the tokens and binds the address.
    pub async fn bind(opts: &ServeOptions) -> Result<Server, ServeError> {
        if opts.tokens.is_none() && !opts.allow_anonymous_read {
            return Err(ServeError::Setup(
                "give --tokens FILE (see `idbsync token new`), or --allow-anonymous-read for a read-only server".into(),
            ));
        }
        if let engine::Location::Local(p) =
            engine::Location::parse(&opts.root).map_err(|e| ServeError::Setup(e.to_string()))?
        {
            std::fs::create_dir_all(&p).map_err(|e| ServeError::Setup(format!("--root {}: {e}", p.display())))?;
        }
        let state = Arc::new(AppState::new(opts)?);
        let tls = match &opts.tls {
            Some((cert, key)) => Some(tls_acceptor(cert, key)?),
            None => None,
        };
        let listener =
            TcpListener::bind(opts.listen).await.map_err(|source| ServeError::Bind { addr: opts.listen, source })?;
        let app = router(state.clone(), &opts.allow_origins);
        Ok(Server { listener, state, app, tls, header_timeout: opts.header_timeout })
    }

    /// The address bound (the port, when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The shared state (to reload tokens).
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `stop` completes, then drains the requests in flight.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let mut builder = Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.header_timeout);
        builder.http2().timer(TokioTimer::new());
        tokio::pin!(stop);
        loop {
            let (stream, _) = tokio::select! {
                r = self.listener.accept() => match r {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        eprintln!("idbsync serve: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut stop => break,
            };
            let _ = stream.set_nodelay(true);
            let svc = TowerToHyperService::new(self.app.clone());
            let watcher = graceful.watcher();
            let builder = builder.clone();
            let tls = self.tls.clone();
            let handshake = self.header_timeout;
            tokio::spawn(async move {
                match tls {
                    None => {
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                        let _ = watcher.watch(conn).await;
                    }
                    Some(acceptor) => {
                        let Ok(Ok(tls)) = tokio::time::timeout(handshake, acceptor.accept(stream)).await else {
                            return;
                        };
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
                        let _ = watcher.watch(conn).await;
                    }
                }
            });
        }
        drop(self.listener);
        eprintln!("idbsync serve: stopping: no new connections; finishing the requests in flight");
        tokio::select! {
            _ = graceful.shutdown() => eprintln!("idbsync serve: stopped"),
            _ = tokio::time::sleep(DRAIN) => eprintln!("idbsync serve: requests still running after {} s: stopped", DRAIN.as_secs()),
        }
    }
}

/// Runs the server of `opts` until SIGINT or SIGTERM; SIGHUP re-reads the tokens file.
pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    let server = Server::bind(&opts).await?;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    eprintln!("idbsync serve: {} on {scheme}://{}", engine::redact_url(&opts.root), server.local_addr());
    let state = server.state();
    if state.stale_removed > 0 {
        eprintln!("idbsync serve: removed {} spool folder(s) left by servers no longer running", state.stale_removed);
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup()).map_err(ServeError::Signals)?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match state.reload_tokens() {
                    Ok(n) => eprintln!("idbsync serve: tokens file re-read: {n} tokens"),
                    Err(e) => eprintln!("idbsync serve: tokens file not re-read (the old tokens stay): {e}"),
                }
            }
        });
        let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
        server
            .run(async move {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            })
            .await;
    }
    #[cfg(not(unix))]
    {
        drop(state);
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
    }
    Ok(())
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| ServeError::Tls(format!("--tls-cert {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!("--tls-cert {}: no certificate in it", cert.display())));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| ServeError::Tls(format!("--tls-key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}
