//! `idbsync serve` and `idbsync token new`: flags to options, and printing.

use crate::args::{ServeArgs, TokenNewArgs};
use anyhow::{Context, Result};
use std::process::ExitCode;
use std::time::Duration;

pub fn serve(a: ServeArgs) -> Result<ExitCode> {
    let mut opts = server::ServeOptions::new(a.root, a.listen);
    opts.tokens = a.tokens;
    opts.allow_anonymous_read = a.allow_anonymous_read;
    opts.allow_origins = a.allow_origin;
    opts.max_body = a.max_body;
    opts.tls = a.tls_cert.zip(a.tls_key);
    opts.header_timeout = Duration::from_secs(a.timeout.max(1));
    opts.body_timeout = Duration::from_secs(a.timeout.max(1));
    opts.pushes_per_token = a.pushes_per_token;
    opts.max_merges = a.max_merges;
    opts.spool = a.spool;
    opts.storage = (&a.hdfs).into();
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the server runtime")?;
    rt.block_on(server::serve(opts)).context("idbsync serve")?;
    Ok(ExitCode::SUCCESS)
}

pub fn token_new(a: TokenNewArgs) -> Result<ExitCode> {
    let token = server::new_token(&a.tokens, &a.databases, a.read, a.write)
        .with_context(|| format!("adding a token to {}", a.tokens.display()))?;
    // The token alone on stdout (for scripts); where it went on stderr.
    println!("{token}");
    eprintln!(
        "idbsync: token for {} ({}{}) added to {}; it is shown only now",
        a.databases.join(", "),
        if a.read { "read" } else { "" },
        if a.write {
            if a.read {
                ", write"
            } else {
                "write"
            }
        } else {
            ""
        },
        a.tokens.display()
    );
    Ok(ExitCode::SUCCESS)
}
