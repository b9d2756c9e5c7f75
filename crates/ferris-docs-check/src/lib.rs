//! The code in `docs/`, compiled and run.
//!
//! The concept articles (`docs/concepts/*.md`) and the format specs (`docs/format/*.md`)
//! show Rust: a database opened, a snapshot read, a trait to implement. Prose about code
//! drifts when the code changes; code that is compiled cannot. This crate has no API. It
//! includes each of those documents as the doc comment of an empty module, under
//! `#[cfg(doctest)]`, so `cargo test --workspace` (or `cargo test -p ferris-docs-check`)
//! runs every ```` ```rust ```` block in them as a doctest, the way rustdoc runs the
//! examples on the crates' own front pages.
//!
//! A snippet shows only what the article is about; the lines it needs to compile
//! (imports, a temporary directory, `fn main` returning a `Result`) are hidden in the
//! Markdown with rustdoc's `# ` prefix, which the book and GitHub do not show. A block
//! that is a picture rather than a program is fenced as ```` ```text ````. A unit test
//! checks that every document in the two folders is included here, so a new article's
//! snippets cannot be left out.

#![forbid(unsafe_code)]

/// The concept articles, `docs/concepts/`.
#[cfg(doctest)]
mod concepts {
    #[doc = include_str!("../../../docs/concepts/bloom-filters.md")]
    mod bloom_filters {}
    #[doc = include_str!("../../../docs/concepts/compaction.md")]
    mod compaction {}
    #[doc = include_str!("../../../docs/concepts/mvcc-and-snapshots.md")]
    mod mvcc_and_snapshots {}
    #[doc = include_str!("../../../docs/concepts/skip-lists.md")]
    mod skip_lists {}
    #[doc = include_str!("../../../docs/concepts/sorted-tables.md")]
    mod sorted_tables {}
    #[doc = include_str!("../../../docs/concepts/swapping-components.md")]
    mod swapping_components {}
    #[doc = include_str!("../../../docs/concepts/testing.md")]
    mod testing {}
    #[doc = include_str!("../../../docs/concepts/transactions.md")]
    mod transactions {}
    #[doc = include_str!("../../../docs/concepts/wal-and-recovery.md")]
    mod wal_and_recovery {}
}

/// The format specs, `docs/format/`.
#[cfg(doctest)]
mod format {
    #[doc = include_str!("../../../docs/format/manifest.md")]
    mod manifest {}
    #[doc = include_str!("../../../docs/format/minitable.md")]
    mod minitable {}
    #[doc = include_str!("../../../docs/format/table.md")]
    mod table {}
    #[doc = include_str!("../../../docs/format/wal.md")]
    mod wal {}
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every Markdown file of `docs/concepts/` and `docs/format/` is included above, so
    /// its snippets run.
    #[test]
    fn every_article_and_spec_is_included() {
        let this = include_str!("lib.rs");
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        let mut checked = 0;
        for folder in ["concepts", "format"] {
            for entry in std::fs::read_dir(docs.join(folder)).expect("reading docs/") {
                let name = entry.expect("a directory entry").file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".md") {
                    let include = format!("include_str!(\"../../../docs/{folder}/{name}\")");
                    assert!(
                        this.contains(&include),
                        "docs/{folder}/{name} is not included"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 13, "only {checked} documents found");
    }
}
