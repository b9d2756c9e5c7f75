//! The manifest's error type: the shared vocabulary of `ferris-core`.
//!
//! The manifest and CURRENT are unreadable ([`Error::Io`]), damaged
//! ([`Error::Corruption`]: a bad checksum, an edit that does not decode, edits that
//! contradict each other), or from a newer version ([`Error::UnsupportedVersion`], whose
//! `format` says which: `"manifest"` for the edits, `"CURRENT"` for the pointer, `"log"`
//! for the framing below them). Nothing here is particular to the manifest, and the framing
//! it reads through (`ferris-log`) speaks the same vocabulary, so the crate uses
//! `ferris_core::Error` itself.

pub use ferris_core::{Error, Result};
