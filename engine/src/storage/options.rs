//! How storage is opened: HDFS client settings and how files are written there, checked
//! in one place. Local folders take no options.

use crate::redact::{is_secret_key, REDACTED};
use crate::storage::StorageError;

/// Options for opening a [`crate::Location`], built with consuming `with_*` setters.
/// They concern HDFS; a local folder ignores them. [`crate::open_sink`] checks them
/// ([`StorageOptions::check`]) before it connects.
///
/// ```
/// use engine::StorageOptions;
/// let o = StorageOptions::new().with_hdfs_conf("dfs.client.use.datanode.hostname=true").with_replication(2);
/// assert!(o.check().is_ok());
/// let bad = StorageOptions::new().with_block_size(1000);
/// assert_eq!(
///     bad.check().unwrap_err().to_string(),
///     "--block-size 1000: HDFS needs a multiple of 512 bytes (e.g. 128MiB, 4MiB)"
/// );
/// ```
#[derive(Clone, Default)]
pub struct StorageOptions {
    hdfs_conf: Vec<String>,
    block_size: Option<u64>,
    replication: Option<u32>,
}

impl StorageOptions {
    /// No settings: the cluster's defaults, and `HADOOP_CONF_DIR`'s files.
    pub fn new() -> Self {
        Self::default()
    }

    /// An HDFS client setting, `KEY=VALUE` (as `--hdfs-conf` takes it), over
    /// `HADOOP_CONF_DIR`'s files; repeatable, the last one of a key wins. Key and value
    /// are used trimmed.
    pub fn with_hdfs_conf(mut self, setting: impl Into<String>) -> Self {
        self.hdfs_conf.push(setting.into());
        self
    }

    /// Block size of written files, in bytes: a multiple of 512 (default: the cluster's
    /// `dfs.blocksize`).
    pub fn with_block_size(mut self, bytes: u64) -> Self {
        self.block_size = Some(bytes);
        self
    }

    /// Replication of written files, at least 1 (default: the cluster's `dfs.replication`).
    pub fn with_replication(mut self, replicas: u32) -> Self {
        self.replication = Some(replicas);
        self
    }

    /// Whether HDFS accepts these options: every setting is `KEY=VALUE`, the block size a
    /// positive multiple of 512, the replication at least 1.
    pub fn check(&self) -> Result<(), StorageError> {
        self.hdfs_config()?;
        if let Some(n) = self.block_size {
            if n == 0 || n % 512 != 0 {
                return Err(StorageError::BlockSize(n));
            }
        }
        if self.replication == Some(0) {
            return Err(StorageError::Replication);
        }
        Ok(())
    }

    /// The client settings as (key, value) pairs, in the order given.
    pub fn hdfs_config(&self) -> Result<Vec<(String, String)>, StorageError> {
        self.hdfs_conf
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| StorageError::HdfsConf(kv.clone()))
            })
            .collect()
    }

    /// The client settings as the storage options deltalake passes to its HDFS object
    /// store (hdfs-native takes Hadoop keys as they are: `dfs.nameservices`, …); the last
    /// one of a key wins. Checked as [`StorageOptions::check`] checks them.
    pub fn delta_storage_options(&self) -> Result<std::collections::HashMap<String, String>, StorageError> {
        self.check()?;
        Ok(self.hdfs_config()?.into_iter().collect())
    }

    /// The block size asked for, if any.
    pub fn block_size(&self) -> Option<u64> {
        self.block_size
    }

    /// The replication asked for, if any.
    pub fn replication(&self) -> Option<u32> {
        self.replication
    }
}

impl std::fmt::Debug for StorageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values of settings that look secret are not shown (a malformed one not at all).
        let conf: Vec<String> = self
            .hdfs_conf
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}={REDACTED}"),
                None if is_secret_key(kv) => REDACTED.to_owned(),
                _ => kv.clone(),
            })
            .collect();
        f.debug_struct("StorageOptions")
            .field("hdfs_conf", &conf)
            .field("block_size", &self.block_size)
            .field("replication", &self.replication)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let o = StorageOptions::new().with_hdfs_conf(" dfs.replication = 2 ").with_block_size(4 << 20);
        assert!(o.check().is_ok());
        assert_eq!(o.hdfs_config().unwrap(), vec![("dfs.replication".to_owned(), "2".to_owned())]);
        let msg = |o: StorageOptions| o.check().unwrap_err().to_string();
        assert_eq!(msg(StorageOptions::new().with_hdfs_conf("x")), "--hdfs-conf x: expected KEY=VALUE");
        assert_eq!(msg(StorageOptions::new().with_replication(0)), "--replication must be at least 1");
        assert!(msg(StorageOptions::new().with_block_size(0)).contains("multiple of 512"));
        assert!(msg(StorageOptions::new().with_block_size(513)).contains("multiple of 512"));
    }

    #[test]
    fn delta_storage_options_are_the_settings_last_one_winning() {
        let o = StorageOptions::new().with_hdfs_conf("a=1").with_hdfs_conf("b = 2").with_hdfs_conf("a=3");
        let m = o.delta_storage_options().unwrap();
        assert_eq!((m.len(), m["a"].as_str(), m["b"].as_str()), (2, "3", "2"));
        assert!(StorageOptions::new().with_hdfs_conf("x").delta_storage_options().is_err());
    }

    #[test]
    fn options_hide_secret_settings() {
        let o = StorageOptions::new()
            .with_hdfs_conf("fs.s3a.secret.key=s3cr3t-value")
            .with_hdfs_conf("dfs.replication=2")
            .with_hdfs_conf("ssl.keystore.password:oops-s3cr3t");
        let shown = format!("{o:?}");
        assert!(!shown.contains("s3cr3t") && shown.contains("***") && shown.contains("dfs.replication=2"), "{shown}");
    }
}
