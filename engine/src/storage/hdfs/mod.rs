//! The HDFS sink, through hdfs-native's client (no JVM, no libhdfs).
//!
//! `hdfs://host:port/path` names one NameNode; `hdfs://nameservice/path` is resolved through
//! the `core-site.xml`/`hdfs-site.xml` in `HADOOP_CONF_DIR` (HA). The user is
//! `HADOOP_USER_NAME` (or the login name); Kerberos uses the ticket cache after `kinit`
//! when `hadoop.security.authentication=kerberos`.
//!
//! Every file is written by a task of the sink's own tokio runtime: the writing thread hands
//! it chunks through a small bounded channel, so several files upload at once and a
//! Parquet writer streams row group by row group without waiting on the network for each.
//!
//! NameNode calls are bounded in time and retries ([`namenode`]).
//!
//! User-info in a URL (`hdfs://user:secret@nn/…`) is not used (the user comes from
//! `HADOOP_USER_NAME` or Kerberos) and never appears in a message.

mod namenode;

use crate::redact::redact_url;
use crate::storage::location::split_url;
use crate::storage::options::StorageOptions;
use crate::storage::sink::{Entry, Sink, SinkFile};
use bytes::Bytes;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};
use namenode::{Bounds, NameNode, NnError};
use std::io::{self, Read, Write};
use std::sync::Arc;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes gathered before a chunk goes to the upload task.
const CHUNK: usize = 4 << 20;
/// Chunks in flight per file (memory per open file ≈ (DEPTH + 1) × CHUNK).
const DEPTH: usize = 2;

/// hdfs-native's error as an `io::Error` of the matching kind.
pub fn io_error(e: HdfsError) -> io::Error {
    let kind = match &e {
        HdfsError::FileNotFound(_) => io::ErrorKind::NotFound,
        HdfsError::AlreadyExists(_) => io::ErrorKind::AlreadyExists,
        HdfsError::InvalidPath(_) | HdfsError::InvalidArgument(_) | HdfsError::UrlParseError(_) => {
            io::ErrorKind::InvalidInput
        }
        HdfsError::IOError(io) => io.kind(),
        _ => io::ErrorKind::Other,
    };
    // RPC errors carry the Java exception class first; keep the message, which names the path.
    io::Error::new(kind, e.to_string())
}

/// A dataset location on HDFS.
pub struct HdfsSink {
    client: Client,
    rt: Arc<Runtime>,
    /// `hdfs://authority`.
    base: String,
    /// Absolute root path, without a trailing `/` (except for `/` itself).
    root: String,
    write: WriteOptions,
    /// Bounds the NameNode calls and tells an unreachable NameNode.
    nn: NameNode,
}

impl std::fmt::Debug for HdfsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HdfsSink({}{})", self.base, self.root)
    }
}

impl HdfsSink {
    /// Connects to the cluster of `url` (`hdfs://host:port/path` or `hdfs://nameservice/path`).
    /// Nothing is sent until the first operation. The options are used as given
    /// ([`crate::open_sink`] checks them first).
    pub fn connect(url: &str, opts: &StorageOptions) -> io::Result<HdfsSink> {
        let invalid = |e: crate::storage::StorageError| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
        let (base, root) = split_url(url).map_err(invalid)?;
        let config = opts.hdfs_config().map_err(invalid)?;
        let bounds = Bounds::from_config(&config)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("idbsync-hdfs")
            .enable_all()
            .build()?;
        let rt = Arc::new(rt);
        let mut b = ClientBuilder::new().with_url(base.clone()).with_io_runtime(rt.handle().clone());
        if !config.is_empty() {
            b = b.with_config(config);
        }
        let client = b.build().map_err(|e| {
            let e = io_error(e);
            io::Error::new(e.kind(), format!("{}: cannot connect: {e}", redact_url(url)))
        })?;
        let mut write = WriteOptions::default().overwrite(true).create_parent(true);
        if let Some(bs) = opts.block_size() {
            write = write.block_size(bs);
        }
        if let Some(r) = opts.replication() {
            write = write.replication(r);
        }
        let nn = NameNode::new(rt.clone(), base.clone(), bounds);
        Ok(HdfsSink { client, rt, base, root, write, nn })
    }

    /// The hdfs-native client (for tests and tools that read back).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a future of the client on the sink's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The absolute HDFS path of a relative sink path.
    pub fn full(&self, rel: &str) -> String {
        match (self.root.as_str(), rel) {
            (root, "") => root.to_owned(),
            ("/", rel) => format!("/{rel}"),
            (root, rel) => format!("{root}/{rel}"),
        }
    }

    fn ctx(&self, rel: &str, e: HdfsError) -> io::Error {
        let e = io_error(e);
        io::Error::new(e.kind(), format!("{}: {e}", self.describe(rel)))
    }

    /// A NameNode call within the bounds; every error as an `io::Error` naming `rel`.
    fn call<T, Fut>(&self, rel: &str, f: impl Fn() -> Fut) -> io::Result<T>
    where
        Fut: std::future::Future<Output = Result<T, HdfsError>>,
    {
        self.nn.call(&self.describe(rel), f).map_err(|e| self.nn_error(rel, e))
    }

    fn nn_error(&self, rel: &str, e: NnError) -> io::Error {
        match e {
            NnError::Unreachable(e) => e,
            NnError::Answer(e) => self.ctx(rel, e),
        }
    }

    fn parent_dir(&self, rel: &str) -> io::Result<()> {
        let full = self.full(rel);
        if let Some(i) = full.rfind('/') {
            if i > 0 {
                self.call(rel, || self.client.mkdirs(&full[..i], 0o755, true))?;
            }
        }
        Ok(())
    }
}

/// A file being uploaded: chunks go to an upload task; `close` waits for it.
struct HdfsFile {
    buf: Vec<u8>,
    tx: Option<mpsc::Sender<Msg>>,
    task: Option<JoinHandle<Result<(), HdfsError>>>,
    rt: Arc<Runtime>,
    what: String,
    /// To tell a NameNode that went away from a DataNode that failed, when the upload fails.
    client: Client,
    nn: NameNode,
}

enum Msg {
    Data(Bytes),
    Close,
}

impl HdfsFile {
    /// The upload task's error, once it has stopped taking chunks.
    fn failure(&mut self) -> io::Error {
        self.tx = None;
        let res = match self.task.take() {
            Some(t) => self.rt.block_on(t),
            None => return io::Error::other(format!("{}: the upload already failed", self.what)),
        };
        match res {
            Ok(Err(e)) => self.upload_error(e),
            Ok(Ok(())) => io::Error::other(format!("{}: the upload stopped early", self.what)),
            Err(join) => io::Error::other(format!("{}: the upload task failed: {join}", self.what)),
        }
    }

    /// The upload's error, saying whether the NameNode or the DataNodes went away (an
    /// upload talks to both).
    fn upload_error(&self, e: HdfsError) -> io::Error {
        let lost = namenode::is_unreachable(&e) || matches!(e, HdfsError::DataTransferError(_));
        let e = io_error(e);
        let msg = if !lost {
            format!("{}: {e}", self.what)
        } else if self.nn.answers(&self.client) {
            format!("{}: writing to the DataNodes failed: {e}", self.what)
        } else {
            format!("{}: cannot reach the NameNode at {}: {e}", self.what, self.nn.base())
        };
        io::Error::new(e.kind(), msg)
    }

    fn send(&mut self, msg: Msg) -> io::Result<()> {
        let tx = self.tx.as_ref().ok_or_else(|| io::Error::other(format!("{}: the file is closed", self.what)))?;
        if tx.blocking_send(msg).is_err() {
            return Err(self.failure());
        }
        Ok(())
    }

    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.send(Msg::Data(Bytes::from(chunk)))
    }
}

impl Write for HdfsFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Bytes reach the cluster on their own; durability comes with `close`.
        Ok(())
    }
}

impl SinkFile for HdfsFile {
    fn close(mut self: Box<Self>) -> io::Result<()> {
        self.send_buf()?;
        self.send(Msg::Close)?;
        self.tx = None;
        let task = self.task.take().expect("an open file has its task");
        match self.rt.block_on(task) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.upload_error(e)),
            Err(join) => Err(io::Error::other(format!("{}: the upload task failed: {join}", self.what))),
        }
    }
}

impl Drop for HdfsFile {
    fn drop(&mut self) {
        // Not closed: the task sees the channel end without `Close` and abandons the file
        // (it stays incomplete under `_temporary`, where the commit protocol never looks).
        self.tx = None;
    }
}

/// Bytes fetched per read request: each request streams from a DataNode, so few large
/// requests beat many small ones.
const READ_CHUNK: usize = 16 << 20;

/// A file read from HDFS in large chunks, served to callers in whatever sizes they ask.
struct HdfsRead {
    reader: hdfs_native::file::FileReader,
    rt: Arc<Runtime>,
    what: String,
    chunk: Bytes,
}

impl Read for HdfsRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.chunk.is_empty() {
            let n = READ_CHUNK.min(self.reader.remaining());
            if n == 0 {
                return Ok(0);
            }
            let rt = self.rt.clone();
            self.chunk = rt.block_on(self.reader.read(n)).map_err(|e| {
                let e = io_error(e);
                io::Error::new(e.kind(), format!("{}: {e}", self.what))
            })?;
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

impl Sink for HdfsSink {
    fn create(&self, path: &str) -> io::Result<Box<dyn SinkFile>> {
        let full = self.full(path);
        let writer = self.call(path, || self.client.create(&full, self.write.clone()))?;
        let (tx, mut rx) = mpsc::channel::<Msg>(DEPTH);
        let task = self.rt.spawn(async move {
            let mut writer = writer;
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Data(b) => {
                        writer.write(b).await?;
                    }
                    Msg::Close => return writer.close().await,
                }
            }
            Ok(())
        });
        Ok(Box::new(HdfsFile {
            buf: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            task: Some(task),
            rt: self.rt.clone(),
            what: self.describe(path),
            client: self.client.clone(),
            nn: self.nn.clone(),
        }))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        if self.exists(to)? {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists", self.describe(to))));
        }
        self.parent_dir(to)?;
        let (a, b) = (self.full(from), self.full(to));
        self.call(from, || self.client.rename(&a, &b, false))
    }

    fn remove_all(&self, path: &str) -> io::Result<()> {
        let full = self.full(path);
        match self.nn.call(&self.describe(path), || self.client.delete(&full, true)) {
            Ok(_) | Err(NnError::Answer(HdfsError::FileNotFound(_))) => Ok(()),
            Err(e) => Err(self.nn_error(path, e)),
        }
    }

    fn list(&self, path: &str) -> io::Result<Vec<Entry>> {
        let full = self.full(path);
        let statuses = match self.nn.call(&self.describe(path), || self.client.list_status(&full, false)) {
            Ok(s) => s,
            Err(NnError::Answer(HdfsError::FileNotFound(_))) => return Ok(Vec::new()),
            Err(e) => return Err(self.nn_error(path, e)),
        };
        let mut out: Vec<Entry> = statuses
            .into_iter()
            .map(|s| Entry {
                name: s.path.rsplit('/').next().unwrap_or_default().to_owned(),
                is_dir: s.isdir,
                len: s.length as u64,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn exists(&self, path: &str) -> io::Result<bool> {
        let full = self.full(path);
        match self.nn.call(&self.describe(path), || self.client.get_file_info(&full)) {
            Ok(_) => Ok(true),
            Err(NnError::Answer(HdfsError::FileNotFound(_))) => Ok(false),
            Err(e) => Err(self.nn_error(path, e)),
        }
    }

    fn open(&self, path: &str) -> io::Result<Box<dyn Read + Send>> {
        let full = self.full(path);
        let reader = self.call(path, || self.client.read(&full))?;
        Ok(Box::new(HdfsRead { reader, rt: self.rt.clone(), what: self.describe(path), chunk: Bytes::new() }))
    }

    fn describe(&self, path: &str) -> String {
        format!("{}{}", self.base, self.full(path))
    }

    fn replace(&self, from: &str, to: &str) -> io::Result<()> {
        // HDFS renames over an existing file atomically (rename2 with OVERWRITE).
        self.parent_dir(to)?;
        let (a, b) = (self.full(from), self.full(to));
        self.call(to, || self.client.rename(&a, &b, true))
    }
}
