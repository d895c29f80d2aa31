//! Concurrent writers: which deltalake errors mean that another writer committed first
//! (so the push is redone against the table's new version), and how long to wait before
//! the next attempt.
//!
//! Delta serialises writers optimistically: each commit is the next numbered log file,
//! written only if absent. deltalake retries a commit that finds its version taken when
//! the winning commits do not touch what the transaction read (its own retry loop, with
//! the conflict checker); when they do, it gives up with a commit conflict. A push then
//! starts that table over: it reads the table at its new version, checks the batch again
//! (another process may have applied it), looks the keys up again and merges again.

use deltalake::kernel::transaction::{CommitConflictError, TransactionError};
use deltalake::DeltaTableError;
use rand::Rng;
use std::time::Duration;

/// Attempts per table unless [`super::PushOptions::with_max_attempts`] says otherwise.
pub(crate) const DEFAULT_ATTEMPTS: u32 = 12;
/// The wait after the first lost attempt; it doubles with each further one.
const FIRST_WAIT: Duration = Duration::from_millis(25);
/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// Whether `e` says that another writer's commit got in first, in a way that a new
/// attempt against the table's new version can resolve.
pub(crate) fn is_conflict(e: &DeltaTableError) -> bool {
    match e {
        DeltaTableError::VersionAlreadyExists(_) => true,
        DeltaTableError::Transaction { source } => match source {
            TransactionError::VersionAlreadyExists(_) | TransactionError::MaxCommitAttempts(_) => true,
            TransactionError::CommitConflict(c) => matches!(
                c,
                CommitConflictError::ConcurrentAppend
                    | CommitConflictError::ConcurrentDeleteRead
                    | CommitConflictError::ConcurrentDeleteDelete
                    | CommitConflictError::MetadataChanged
                    | CommitConflictError::ConcurrentTransaction
                    | CommitConflictError::ProtocolChanged(_)
            ),
            _ => false,
        },
        _ => false,
    }
}

/// How long to wait after `lost` lost attempts (1 after the first): exponential from
/// [`FIRST_WAIT`], capped at [`MAX_WAIT`], drawn at random from its upper half so that
/// writers that collided once do not collide again in step.
pub(crate) fn backoff(lost: u32) -> Duration {
    let full = FIRST_WAIT.saturating_mul(1 << lost.clamp(1, 16).saturating_sub(1)).min(MAX_WAIT);
    full.mul_f64(rand::rng().random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_are_the_errors_another_attempt_can_resolve() {
        let conflict = |c| DeltaTableError::Transaction { source: TransactionError::CommitConflict(c) };
        assert!(is_conflict(&conflict(CommitConflictError::ConcurrentAppend)));
        assert!(is_conflict(&conflict(CommitConflictError::ConcurrentTransaction)));
        assert!(is_conflict(&conflict(CommitConflictError::MetadataChanged)));
        assert!(is_conflict(&DeltaTableError::VersionAlreadyExists(3)));
        assert!(is_conflict(&DeltaTableError::Transaction { source: TransactionError::MaxCommitAttempts(15) }));
        assert!(!is_conflict(&conflict(CommitConflictError::UnsupportedWriterVersion(8))));
        assert!(!is_conflict(&DeltaTableError::Generic("disk full".into())));
        assert!(!is_conflict(&DeltaTableError::Transaction { source: TransactionError::DeltaTableAppendOnly }));
    }

    #[test]
    fn waits_grow_from_tens_of_milliseconds_to_two_seconds_with_jitter() {
        for lost in 1..40 {
            let full = FIRST_WAIT.saturating_mul(1 << (lost.min(16) - 1)).min(MAX_WAIT);
            let w = backoff(lost);
            assert!(w >= full / 2 && w <= full, "{lost}: {w:?} of {full:?}");
        }
        assert!(backoff(1) <= FIRST_WAIT);
        assert!(backoff(30) >= MAX_WAIT / 2);
    }
}
