//! Keys, values, lookups and iterator positions in a few words, for failures: escaped, and
//! cut short when long, so that a 4 KiB key or a 9 KB value does not drown the message.

use std::fmt;

use ferris_core::{InternalIterator, InternalKeyRef, Lookup};

/// Bytes as a byte-string literal, cut short after 24 bytes.
///
/// Nothing is formatted until the result is displayed, so a check can name the bytes in
/// a `format_args!` for a problem it will almost never have: the lookups that pass, by
/// the thousand, format nothing.
pub(crate) fn bytes(bytes: &[u8]) -> impl fmt::Display + '_ {
    ByteString(bytes)
}

struct ByteString<'a>(&'a [u8]);

impl fmt::Display for ByteString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 24;
        let bytes = self.0;
        let shown = bytes[..bytes.len().min(SHOWN)].escape_ascii();
        if bytes.len() > SHOWN {
            write!(f, "b\"{shown}...\" ({} bytes)", bytes.len())
        } else {
            write!(f, "b\"{shown}\"")
        }
    }
}

/// An internal key: `b"user"@seq:Kind`.
pub(crate) fn key(key: InternalKeyRef<'_>) -> String {
    format!("{}@{}:{:?}", bytes(key.user_key), key.seq, key.kind)
}

/// An entry: its key, and its value.
pub(crate) fn entry(key: InternalKeyRef<'_>, value: &[u8]) -> String {
    format!("{} = {}", self::key(key), bytes(value))
}

/// A lookup's answer.
pub(crate) fn lookup(lookup: &Option<Lookup>) -> String {
    match lookup {
        None => "None".to_owned(),
        Some(Lookup::Deleted) => "Deleted".to_owned(),
        Some(Lookup::Value(v)) => format!("Value({})", bytes(v)),
    }
}

/// Where an iterator is: on an entry, off the end, or failed.
pub(crate) fn position(it: &dyn InternalIterator) -> String {
    if it.valid() {
        return format!("on {}", entry(it.key(), &it.value()));
    }
    match it.status() {
        Ok(()) => "off the end".to_owned(),
        Err(e) => format!("failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use ferris_core::ValueKind;

    use super::*;

    #[test]
    fn long_bytes_are_cut_short_and_odd_bytes_escaped() {
        assert_eq!(bytes(b"a\x00\xff").to_string(), "b\"a\\x00\\xff\"");
        assert_eq!(
            bytes(&[b'k'; 30]).to_string(),
            format!("b\"{}...\" (30 bytes)", "k".repeat(24))
        );
        let key = InternalKeyRef {
            user_key: b"k",
            seq: 7,
            kind: ValueKind::Delete,
        };
        assert_eq!(entry(key, b""), "b\"k\"@7:Delete = b\"\"");
    }
}
