//! The inferrer: bytes are pushed in, records are split out and scanned in
//! parallel with rayon, and the per-chunk lattices are merged.

use crate::carry::Carry;
use crate::dexie::DatabaseInfo;
use crate::error::{Error, Result};
use crate::format::{self, Format};
use crate::lower::{self, StoreAcc};
use crate::options::{InferOptions, UnknownTags};
use crate::result::{InferResult, RecordIssue};
use crate::scan::{path_at, RecErr, RecordRef, WalkOpts, Walker};
use crate::split::{group_pieces, Piece, Splitter};

struct Partial {
    stores: Vec<StoreAcc>,
    fatal: Option<(u64, Error)>,
}

impl Partial {
    fn new(n: usize) -> Partial {
        Partial { stores: vec![StoreAcc::default(); n], fatal: None }
    }

    fn merge(mut self, o: Partial, max_issues: usize) -> Partial {
        if self.stores.len() < o.stores.len() {
            self.stores.resize_with(o.stores.len(), StoreAcc::default);
        }
        for (a, b) in self.stores.iter_mut().zip(o.stores) {
            a.merge(b, max_issues);
        }
        self.fatal = match (self.fatal, o.fatal) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        self
    }
}

/// Infers one Arrow schema per object store from an export pushed in as bytes.
///
/// ```
/// use schema_infer::{Inferrer, InferOptions};
/// let mut inf = Inferrer::new(InferOptions::new().with_store_name("people")).unwrap();
/// inf.push(b"{\"name\":\"Ada\",\"age\":36}\n{\"name\":\"Alan\",\"age\":41.5}\n").unwrap();
/// let result = inf.finish().unwrap();
/// let schema = &result.stores[0].schema;
/// assert_eq!(schema.field(1).data_type(), &arrow_schema::DataType::Float64);
/// ```
pub struct Inferrer {
    opts: InferOptions,
    /// `None` for one thread: the records are then inferred on the calling thread.
    pool: Option<rayon::ThreadPool>,
    splitter: Option<Splitter>,
    /// The first bytes, kept until the format is known.
    head: Vec<u8>,
    /// The length `head` must reach before detection reads it again.
    detect_at: usize,
    carry: Carry,
    acc: Vec<StoreAcc>,
    bytes: u64,
}

impl Inferrer {
    /// A new inferrer with its own worker pool (none with one thread: starting and
    /// handing work to a pool would cost more than small inputs take to infer).
    /// A pinned schema document is checked first: a type the converter cannot fill is an
    /// error ([`crate::check_schema`]).
    pub fn new(opts: InferOptions) -> Result<Inferrer> {
        if let Some(doc) = &opts.pinned {
            crate::pin::check_doc(doc)?;
        }
        let pool = match opts.threads {
            1 => None,
            n => Some(rayon::ThreadPoolBuilder::new().num_threads(n).build()?),
        };
        Ok(Inferrer {
            opts,
            pool,
            splitter: None,
            head: Vec::new(),
            detect_at: 3,
            carry: Carry::new(),
            acc: Vec::new(),
            bytes: 0,
        })
    }

    /// The format in use, once known.
    pub fn format(&self) -> Option<Format> {
        self.splitter.as_ref().map(|_| self.detected())
    }

    fn detected(&self) -> Format {
        self.opts.format.unwrap_or(Format::Ndjson)
    }

    /// Feeds the next bytes of the input. Complete records are inferred now; an
    /// incomplete tail waits for the next push.
    pub fn push(&mut self, data: &[u8]) -> Result<()> {
        self.bytes += data.len() as u64;
        if self.splitter.is_none() {
            self.head.extend_from_slice(data);
            return self.start(false);
        }
        self.feed(data)
    }

    /// Bytes of input kept waiting for the rest of a record.
    pub fn pending_bytes(&self) -> usize {
        self.head.len() + self.carry.pending()
    }

    /// Ends the input and returns the schemas.
    pub fn finish(mut self) -> Result<InferResult> {
        if self.splitter.is_none() {
            self.start(true)?;
        }
        let mut carry = std::mem::take(&mut self.carry);
        carry.finish(|buf, base| self.process_buf(buf, base, true))?;
        let format = self.detected();
        let splitter = self.splitter.take().expect("splitter exists after eof");
        let database = match format {
            Format::Dexie => Some(DatabaseInfo {
                name: splitter.header.database_name.clone(),
                version: splitter.header.database_version,
            }),
            _ => None,
        };
        lower::build(format, database, &splitter, self.acc, &self.opts, self.bytes)
    }

    fn feed(&mut self, data: &[u8]) -> Result<()> {
        let mut carry = std::mem::take(&mut self.carry);
        let r = carry.feed(data, |buf, base| self.process_buf(buf, base, false));
        self.carry = carry;
        r
    }

    /// Skips a BOM and detects the format once enough of the input is here.
    fn start(&mut self, eof: bool) -> Result<()> {
        if self.head.len() < self.detect_at && !eof {
            return Ok(());
        }
        let bom = if self.head.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let f = match self.opts.format {
            Some(f) => f,
            None => match format::detect(&self.head[bom..], eof) {
                Some(f) => f,
                None => {
                    // Detection reads the whole head: it waits until the head has doubled
                    // (or reached the length where detection always decides), so a head
                    // pushed in small blocks is read a linear number of bytes in all.
                    self.detect_at = (2 * self.head.len()).min(format::DETECT_LIMIT + bom);
                    return Ok(());
                }
            },
        };
        self.opts.format = Some(f);
        let mut s = Splitter::new(f, &self.opts.store_name);
        s.piece_bytes = self.opts.piece_bytes;
        self.splitter = Some(s);
        self.carry.skip(bom as u64);
        let head = std::mem::take(&mut self.head);
        self.feed(&head[bom..])
    }

    /// Splits and infers the records of `buf` (whose first byte is at stream
    /// offset `base`); returns the bytes consumed.
    fn process_buf(&mut self, buf: &[u8], base: u64, eof: bool) -> Result<usize> {
        let job = Job {
            wopts: WalkOpts {
                detect_timestamps: self.opts.detect_timestamps,
                unknown_as_json: self.opts.unknown_tags == UnknownTags::Json,
            },
            max_issues: self.opts.max_issues,
            piece_bytes: self.opts.piece_bytes,
            buf,
            base,
        };
        let acc = std::sync::Mutex::new(Partial::new(0));
        let splitter = self.splitter.as_mut().expect("splitter");
        let used = match &self.pool {
            // Splitting is sequential: the pool infers each window's records while this
            // thread splits the next window.
            Some(pool) => pool.in_place_scope(|scope| {
                splitter.split_windows(buf, base, eof, WINDOW, |sp, pieces| {
                    let stores = WindowStores::of(sp);
                    let (job, acc) = (&job, &acc);
                    scope.spawn(move |_| job.run(&stores, &pieces, acc));
                })
            })?,
            None => splitter.split_windows(buf, base, eof, WINDOW, |sp, pieces| {
                job.run(&WindowStores::of(sp), &pieces, &acc);
            })?,
        };
        let part = acc.into_inner().expect("no panics while merging");
        if let Some((_, e)) = part.fatal {
            return Err(e);
        }
        let n = self.splitter.as_ref().expect("splitter").stores.len();
        self.acc.resize_with(n, StoreAcc::default);
        for (a, b) in self.acc.iter_mut().zip(part.stores) {
            a.merge(b, job.max_issues);
        }
        Ok(used)
    }
}

/// What inferring the records of one buffer needs, shared by its windows.
struct Job<'a> {
    wopts: WalkOpts,
    max_issues: usize,
    piece_bytes: usize,
    buf: &'a [u8],
    base: u64,
}

/// The stores known when a window was split.
struct WindowStores {
    out_of_line: Vec<bool>,
    names: Vec<String>,
}

impl WindowStores {
    fn of(sp: &Splitter) -> WindowStores {
        WindowStores {
            out_of_line: sp.stores.iter().map(|s| s.inbound == Some(false)).collect(),
            names: sp.stores.iter().map(|s| s.name.clone()).collect(),
        }
    }
}

impl Job<'_> {
    /// Infers the records of one window's pieces and merges them into `acc`.
    fn run(&self, stores: &WindowStores, pieces: &[Piece], acc: &std::sync::Mutex<Partial>) {
        let n = stores.names.len();
        for g in group_pieces(pieces, self.piece_bytes) {
            let (ool, names) = (&stores.out_of_line, &stores.names);
            let part = run_group(g, self.buf, self.base, ool, names, self.wopts, n, self.max_issues);
            let mut a = acc.lock().expect("no panics while merging");
            let mine = std::mem::replace(&mut *a, Partial::new(0));
            *a = mine.merge(part, self.max_issues);
        }
    }
}

/// Bytes split before their records are handed to the pool.
const WINDOW: usize = 1 << 20;

/// Infers one work item into a fresh accumulator. A record that turns out to be
/// invalid may already have merged part of itself, so the item is then redone
/// without it: invalid records never shape the schema.
#[allow(clippy::too_many_arguments)]
fn run_group(
    group: &[Piece],
    buf: &[u8],
    base: u64,
    out_of_line: &[bool],
    names: &[String],
    wopts: WalkOpts,
    n: usize,
    max_issues: usize,
) -> Partial {
    let mut walker = Walker::new(wopts);
    let mut bad: Vec<usize> = Vec::new();
    let mut issues: Vec<(u32, RecordIssue)> = Vec::new();
    loop {
        let mut part = Partial::new(n);
        let before = bad.len();
        for piece in group {
            run_piece(piece, buf, base, out_of_line, names, &mut walker, &mut part, &mut bad, &mut issues);
        }
        if bad.len() == before || part.fatal.is_some() {
            for (store, issue) in issues {
                let acc = &mut part.stores[store as usize];
                acc.invalid += 1;
                if acc.issues.len() < max_issues {
                    acc.issues.push(issue);
                }
            }
            return part;
        }
    }
}

/// Walks the records of one piece, skipping those already known to be invalid
/// (`bad`, by start offset) and recording new ones there.
#[allow(clippy::too_many_arguments)]
fn run_piece(
    piece: &Piece,
    buf: &[u8],
    base: u64,
    out_of_line: &[bool],
    names: &[String],
    walker: &mut Walker,
    part: &mut Partial,
    bad: &mut Vec<usize>,
    issues: &mut Vec<(u32, RecordIssue)>,
) {
    let mut one = |store: u32, start: usize, end: usize, index: u64| {
        if bad.contains(&start) {
            return;
        }
        let bytes = &buf[start..end];
        let r = RecordRef { bytes, offset: base + start as u64, index };
        let acc = &mut part.stores[store as usize];
        let res = if out_of_line[store as usize] {
            walker.record(&r, &mut acc.root, Some(&mut acc.key))
        } else {
            walker.record(&r, &mut acc.root, None)
        };
        match res {
            Ok(()) => acc.rows += 1,
            Err(RecErr::Invalid { at, reason }) => {
                bad.push(start);
                let at = at.min(bytes.len());
                let path = path_at(bytes, at);
                issues.push((store, RecordIssue { record: index, offset: r.offset + at as u64, path, reason }));
            }
            Err(RecErr::UnknownTag { at, name }) => {
                let offset = r.offset + at as u64;
                if part.fatal.as_ref().is_none_or(|f| offset < f.0) {
                    let e = Error::UnknownTag {
                        store: names[store as usize].clone(),
                        record: index,
                        offset,
                        path: path_at(bytes, at),
                        tag: name,
                    };
                    part.fatal = Some((offset, e));
                }
            }
        }
    };
    piece.for_each_record(buf, &mut one);
}
