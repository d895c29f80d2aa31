//! No credentials in what the binary prints: every error message (and a panic's message)
//! goes through one [`engine::Redactor`] that knows the values of secret-looking
//! `--hdfs-conf` settings and the user-info of any URL on the command line.

use engine::Redactor;
use std::sync::OnceLock;

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// The redactor for this command line: `--hdfs-conf KEY=VALUE` values whose key looks
/// secret, a malformed `--hdfs-conf` argument that looks secret (it would be echoed in
/// its error), and URL user-info in any argument.
pub fn from_args(args: impl IntoIterator<Item = String>) -> Redactor {
    let mut r = Redactor::new();
    let mut conf_next = false;
    for arg in args {
        r = r.with_urls_in(&arg);
        let conf = if conf_next { Some(arg.as_str()) } else { arg.strip_prefix("--hdfs-conf=") };
        conf_next = arg == "--hdfs-conf";
        let Some(kv) = conf else { continue };
        match kv.split_once('=') {
            // `--hdfs-conf` values are used trimmed.
            Some((k, v)) if engine::is_secret_key(k) => r = r.with_secret(v.trim()),
            Some(_) => {}
            None if engine::is_secret_key(kv) => r = r.with_secret(kv),
            None => {}
        }
    }
    r
}

/// Makes `r` the process's redactor, and has panics print through it too.
pub fn install(r: Redactor) {
    let _ = REDACTOR.set(r);
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned());
        match msg {
            Some(msg) => {
                let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                eprintln!("idbsync panicked{at}: {}", text(&msg));
            }
            None => default(info),
        }
    }));
}

/// `s` as it may be printed.
pub fn text(s: &str) -> String {
    match REDACTOR.get() {
        Some(r) => r.redact(s),
        None => engine::redact_url(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_on_the_command_line_are_found() {
        let args = [
            "idbsync",
            "convert",
            "in.json",
            "--out",
            "hdfs://bob:hunter22@nn:8020/x",
            "--hdfs-conf",
            "fs.s3a.secret.key=AbCdEf123456",
            "--hdfs-conf=dfs.webhdfs.oauth2.access.token= tok-99999 ",
            "--hdfs-conf",
            "ssl.keystore.password:oops-no-equals",
            "--hdfs-conf",
            "dfs.replication=2",
        ];
        let r = from_args(args.iter().map(|s| s.to_string()));
        let msg = "hdfs://bob:hunter22@nn:8020/x AbCdEf123456 tok-99999 ssl.keystore.password:oops-no-equals \
                   hunter22 dfs.replication=2";
        assert_eq!(r.redact(msg), "hdfs://***@nn:8020/x *** *** *** *** dfs.replication=2");
    }
}
