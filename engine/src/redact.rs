//! Keeping credentials out of messages: the user-info of URLs (`hdfs://user:secret@nn/…`)
//! and the values of client settings whose names look secret (`…password`, `…secret…`,
//! `…token…`, `…key…`, …) are replaced by `***` before any text reaches a user.
//!
//! ```
//! use engine::{redact_url, Redactor};
//! assert_eq!(redact_url("hdfs://alice:pw@nn:8020/data"), "hdfs://***@nn:8020/data");
//! let r = Redactor::new().with_config(&[("fs.s3a.secret.key".into(), "s3cr3t-value".into())]);
//! assert_eq!(r.redact("bad value s3cr3t-value in hdfs://u:p@nn/x"), "bad value *** in hdfs://***@nn/x");
//! ```

/// What replaces a credential.
pub const REDACTED: &str = "***";

/// Parts of a setting's name that mark its value as a credential (compared in lower case).
const SECRET_WORDS: &[&str] =
    &["password", "passwd", "secret", "token", "credential", "key", "oauth", "private", "signature"];

/// Secret values shorter than this are not searched for in free text (they would match
/// ordinary words and numbers); they are still never printed by idbsync itself.
const MIN_SCRUB_LEN: usize = 4;

/// Whether a client setting's value is a credential, judged by its name
/// (`fs.s3a.secret.key`, `ssl.client.keystore.password`, `dfs.webhdfs.oauth2.access.token`, …).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// `text` with the user-info of every `scheme://user-info@host` replaced by `***`.
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the path, the query, or anything that cannot be in a URL.
        let end = tail.find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace()).unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Replaces known secret values and URL user-info in text.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Secret values, longest first (so that a secret containing another goes whole).
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor that knows no secret values yet (it still hides URL user-info).
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Also hides `value` wherever it appears.
    pub fn with_secret(mut self, value: &str) -> Redactor {
        if !value.is_empty() && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_owned());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
        self
    }

    /// Also hides the values of the settings in `config` whose names look secret
    /// ([`is_secret_key`]).
    pub fn with_config(self, config: &[(String, String)]) -> Redactor {
        config.iter().filter(|(k, _)| is_secret_key(k)).fold(self, |r, (_, v)| r.with_secret(v))
    }

    /// Also hides the user-info of every URL in `text` (e.g. a command-line argument), in
    /// whatever form it is printed later.
    pub fn with_urls_in(self, text: &str) -> Redactor {
        let mut r = self;
        let mut rest = text;
        while let Some(i) = rest.find("://") {
            let tail = &rest[i + 3..];
            let end = tail.find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace()).unwrap_or(tail.len());
            if let Some(at) = tail[..end].rfind('@') {
                let info = &tail[..at];
                r = r.with_secret(info);
                // The password alone, too (it may be printed without the user).
                if let Some((_, pw)) = info.split_once(':') {
                    r = r.with_secret(pw);
                }
            }
            rest = &tail[end..];
        }
        r
    }

    /// `text` without URL user-info and without any known secret value.
    pub fn redact(&self, text: &str) -> String {
        let mut out = redact_url(text);
        for s in self.secrets.iter().filter(|s| s.len() >= MIN_SCRUB_LEN) {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_setting_names() {
        for k in [
            "fs.s3a.secret.key",
            "fs.s3a.access.key",
            "ssl.client.keystore.password",
            "dfs.webhdfs.oauth2.access.token",
            "hadoop.security.credential.provider.path",
            "fs.azure.account.key.acct.blob.core.windows.net",
            "My.PASSWORD",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["dfs.replication", "hadoop.security.authentication", "dfs.nameservices", "fs.defaultFS"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn url_user_info_is_hidden_wherever_it_is() {
        assert_eq!(redact_url("hdfs://nn:8020/x"), "hdfs://nn:8020/x");
        assert_eq!(redact_url("hdfs://u:p@nn:8020"), "hdfs://***@nn:8020");
        assert_eq!(
            redact_url("copying /a to hdfs://u:p@w@nn/x/y@z: refused"),
            "copying /a to hdfs://***@nn/x/y@z: refused"
        );
        assert_eq!(redact_url("a://t@h b://c@d/e"), "a://***@h b://***@d/e");
        assert_eq!(redact_url("odd ://@ end"), "odd ://***@ end");
        assert_eq!(redact_url("mail me@host, no url"), "mail me@host, no url");
    }

    #[test]
    fn known_secrets_are_hidden_in_any_text() {
        let r = Redactor::new()
            .with_config(&[
                ("fs.s3a.secret.key".into(), "AbCdEf123456".into()),
                ("dfs.replication".into(), "2".into()),
                ("x.token".into(), "AbCdEf123456-longer".into()),
            ])
            .with_urls_in("hdfs://bob:hunter22@nn:8020/data");
        let text = "AbCdEf123456-longer, AbCdEf123456, replication 2, bob:hunter22@nn, pw hunter22";
        assert_eq!(r.redact(text), "***, ***, replication 2, ***@nn, pw ***");
        assert!(!format!("{r:?}").contains("AbCdEf"));
    }
}
