//! What a push is doing, told as it goes to an observer ([`super::PushOptions::with_progress`]):
//! the stages of the whole input, then of each table in turn. The CLI shows them on a
//! spinner; the engine itself prints nothing.

use super::push::PushStatus;
use std::sync::Arc;

/// A stage of a push. Stages come in this order: [`PushStage::Reading`], then
/// [`PushStage::Decoding`], then for each table: [`PushStage::LookingUp`] (when the table
/// exists), [`PushStage::Creating`] (when it does not), [`PushStage::Merging`] (when
/// there is something to merge), and [`PushStage::Done`]. An attempt that lost to another
/// writer's commit is followed by [`PushStage::Retrying`] and the table's stages again.
/// A first push into new tables is streamed: [`PushStage::Creating`] for each table,
/// [`PushStage::Writing`] as the input is read again, then [`PushStage::Done`] for each.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushStage {
    /// Reading the input and inferring its schema.
    Reading,
    /// Decoding `records` records of `stores` stores against the columns of their tables.
    Decoding {
        /// Stores in the input.
        stores: usize,
        /// Their records.
        records: u64,
    },
    /// A first push into new tables, streamed: `records` rows written to their data
    /// files so far (the input is read a second time, in blocks).
    Writing {
        /// Rows written so far.
        records: u64,
    },
    /// Reading the key and content hash of `table`'s rows at the version this attempt
    /// read, to tell inserts, updates and unchanged records apart.
    LookingUp {
        /// The table.
        table: String,
    },
    /// Creating `table` (its version 0).
    Creating {
        /// The table.
        table: String,
    },
    /// One Delta `MERGE` into `table`: writing the data and change files, then the
    /// commit (deltalake does both in one operation).
    Merging {
        /// The table.
        table: String,
        /// Rows inserted or updated.
        upserts: u64,
        /// Rows deleted (`--mirror`'s included).
        deletes: u64,
    },
    /// Another writer committed first: attempt `attempt` starts over against the
    /// table's new version.
    Retrying {
        /// The table.
        table: String,
        /// The attempt starting (2 or more).
        attempt: u32,
    },
    /// `table` is done.
    Done {
        /// The table.
        table: String,
        /// What happened to it.
        status: PushStatus,
        /// Its version after the push.
        checkpoint: i64,
    },
}

/// A function told each stage.
type Observer = Arc<dyn Fn(&PushStage) + Send + Sync>;

/// The observer of a push's stages, if any.
#[derive(Clone, Default)]
pub(super) struct Progress(Option<Observer>);

impl Progress {
    pub(super) fn new(f: impl Fn(&PushStage) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(f)))
    }

    /// Tells the observer the stage `stage` makes (made only when there is one).
    pub(super) fn report(&self, stage: impl FnOnce() -> PushStage) {
        if let Some(f) = &self.0 {
            f(&stage());
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(observer)" } else { "Progress(none)" })
    }
}
