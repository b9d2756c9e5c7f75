//! Which conflicts a transaction is checked for.

/// How strictly a transaction is isolated from the ones running beside it: which of its
/// ranges the resolver checks at commit (see the crate's front page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isolation {
    /// The result is as if committed transactions ran one at a time, in commit order: a
    /// transaction conflicts when a commit after its read version wrote into a range it
    /// **read** (its point reads and its scans, whole). Stops lost updates, write skew and
    /// phantoms. The default, as in FoundationDB.
    #[default]
    Serializable,
    /// Snapshot isolation: a transaction conflicts only when a commit after its read
    /// version wrote a key it **writes** too (first committer wins). Stops lost updates;
    /// lets write skew through. Its reads record nothing, so it costs less, and a
    /// transaction that only reads and writes keys no one else writes never conflicts.
    Snapshot,
}
