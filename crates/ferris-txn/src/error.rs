//! Why a transaction may not commit.

use ferris_core::SeqNo;

use crate::KeyRange;

impl TxnError {
    /// Whether the transaction may commit if run again from a new read version: true for
    /// [`Conflict`](TxnError::Conflict) and [`TooOld`](TxnError::TooOld).
    pub fn is_retryable(&self) -> bool {
        matches!(self, TxnError::Conflict { .. } | TxnError::TooOld { .. })
    }
}

/// Why the resolver refused a transaction. Every variant means "do not commit": a
/// transaction that gets one has written nothing, and may retry from a new read version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxnError {
    /// A range the transaction read was written by a transaction that committed after the
    /// read version: what it read may no longer be true, so committing could break
    /// serializability. Retrying reads the new value.
    #[error("conflict on {range}: written by the commit at sequence {committed_at}")]
    Conflict {
        /// The first of the checked ranges (in the order given) that conflicted.
        range: KeyRange,
        /// The newest commit whose writes intersect `range`.
        committed_at: SeqNo,
    },
    /// The resolver no longer remembers every commit newer than the read version (it
    /// trimmed them, by the oldest live read version, its byte cap or its age limit), so it
    /// cannot tell whether the transaction conflicts. FoundationDB's
    /// `transaction_too_old`. Retrying with a new read version succeeds.
    #[error(
        "read version {read_version} is too old: the resolver checks read versions from {oldest} on"
    )]
    TooOld {
        /// The transaction's read version.
        read_version: SeqNo,
        /// The oldest read version the resolver can check now.
        oldest: SeqNo,
    },
    /// The transaction's conflict ranges, read or written, weigh more than
    /// [`ResolverLimits::max_txn_bytes`](crate::ResolverLimits::max_txn_bytes) (measured by
    /// [`KeyRange::charged_bytes`]). Retrying does not help: split the transaction.
    #[error("transaction's conflict ranges weigh {bytes} bytes, over the limit of {limit}")]
    TooLarge {
        /// What the ranges weigh.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A commit was recorded with a sequence number not above every one recorded or trimmed
    /// before it. The engine assigns sequence numbers in order, so this is a bug in the
    /// caller; the resolver refuses it rather than keep a history out of order.
    #[error("commit at sequence {commit} recorded after sequence {after}")]
    OutOfOrder {
        /// The commit's sequence number.
        commit: SeqNo,
        /// The sequence number it had to be above.
        after: SeqNo,
    },
}
