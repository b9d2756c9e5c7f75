//! The minitable's bytes: entries, blocks, handles, the properties and the footer.
//! `docs/format/minitable.md` is the byte-level specification; this module is its code.
//!
//! Everything here is a pure function of its input: the builder encodes with it, the
//! reader decodes with it, and a tool that wants to look inside a minitable can too. The
//! decoders take untrusted bytes: they check every length against the bytes present
//! before slicing, and return a [`DecodeError`] (with the offset of the problem) instead
//! of panicking.

use std::cmp::Ordering;
use std::ops::Range;

use bytes::Bytes;
use ferris_core::checksum::masked_crc32c;
use ferris_core::coding::{Decoder, put_varint32, put_varint64};
use ferris_core::key::compare_encoded;
use ferris_core::{DEFAULT_KEYSPACE, DecodeError, InternalKeyRef, KeyspaceId, SeqNo};

/// The last 8 bytes of every minitable: ASCII `FRSDBMIN`.
pub const MAGIC: [u8; 8] = *b"FRSDBMIN";

/// The format version this build writes, and the newest it reads. Version 2 added
/// [`Properties::keyspace`], version 3 range tombstones ([`Properties::range_tombstones`]
/// and their block); version 1 tables still read, as tables of the default keyspace, and
/// version 1 and 2 tables as tables without range tombstones.
pub const FORMAT_VERSION: u32 = 3;

/// The first format version whose properties record the table's keyspace.
pub const KEYSPACE_VERSION: u32 = 2;

/// The first format version that stores range tombstones.
pub const RANGE_TOMBSTONE_VERSION: u32 = 3;

/// Size of the footer that closes every minitable.
pub const FOOTER_LEN: usize = 48;

/// Size of the trailer after every block: its masked CRC-32C.
pub const BLOCK_TRAILER_LEN: usize = 4;

/// Size of an encoded [`Handle`]: offset and size, a `u64` each.
pub const HANDLE_LEN: usize = 16;

/// The masked CRC-32C (`ferris_core::checksum`) that guards a block, and the footer.
pub fn crc(bytes: &[u8]) -> u32 {
    masked_crc32c(&[bytes])
}

/// Appends one entry: `key_len: varint | value_len: varint | key | value`.
///
/// Data blocks are runs of these, keys being encoded internal keys; the index block is a
/// run of them too, each value an encoded [`Handle`].
pub fn put_entry(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    put_varint64(out, key.len() as u64);
    put_varint64(out, value.len() as u64);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// Where a block lies in the file: its offset and its size, without its 4-byte trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Handle {
    /// Offset of the block's first byte.
    pub offset: u64,
    /// Size of the block in bytes, excluding its trailer.
    pub size: u64,
}

impl Handle {
    /// Appends the handle: `offset: u64 LE | size: u64 LE`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
    }

    /// Decodes a handle from exactly [`HANDLE_LEN`] bytes.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] if `bytes` is not [`HANDLE_LEN`] bytes long.
    pub fn decode(bytes: &[u8]) -> Result<Handle, DecodeError> {
        let Ok(bytes) = <&[u8; HANDLE_LEN]>::try_from(bytes) else {
            return Err(DecodeError::new(0, "a block handle is not 16 bytes"));
        };
        let (offset, size) = bytes.split_at(8);
        Ok(Handle {
            offset: u64::from_le_bytes(offset.try_into().expect("8 bytes")),
            size: u64::from_le_bytes(size.try_into().expect("8 bytes")),
        })
    }

    /// The offset just past the block's trailer, or `None` if that overflows a `u64`
    /// (which only a damaged handle can make it do).
    pub fn end(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(BLOCK_TRAILER_LEN as u64)
    }
}

/// The footer: where the index and the properties are, the format version, and the magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The format version the table was written in ([`FORMAT_VERSION`] for a table this
    /// build writes): it says how to decode the properties.
    pub version: u32,
    /// The index block.
    pub index: Handle,
    /// The properties block.
    pub properties: Handle,
}

/// Why a footer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FooterError {
    /// Not a minitable, or a damaged one: a wrong magic or checksum, or version 0.
    Damaged(&'static str),
    /// An intact footer of a newer format version.
    UnsupportedVersion(u32),
}

impl Footer {
    /// Encodes the footer:
    ///
    /// ```text
    /// 0              16                   32        36         40      48
    /// | index handle | properties handle | version | checksum | magic |
    /// ```
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        self.index.encode_into(&mut out);
        self.properties.encode_into(&mut out);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&crc(&out).to_le_bytes());
        out.extend_from_slice(&MAGIC);
        out.try_into()
            .expect("the footer's fields add up to FOOTER_LEN")
    }

    /// Decodes and checks a footer: the magic first (is this a minitable at all?), then
    /// the checksum (is the footer intact?), then the version (can this build read it?).
    ///
    /// # Errors
    ///
    /// [`FooterError::Damaged`] for a wrong magic or checksum or version 0, and
    /// [`FooterError::UnsupportedVersion`] for an intact footer of a newer version.
    pub fn decode(bytes: &[u8; FOOTER_LEN]) -> Result<Footer, FooterError> {
        let (body, magic) = bytes.split_at(40);
        if magic != MAGIC {
            return Err(FooterError::Damaged("not a minitable (bad magic)"));
        }
        let (fields, stored_crc) = body.split_at(36);
        if u32::from_le_bytes(stored_crc.try_into().expect("4 bytes")) != crc(fields) {
            return Err(FooterError::Damaged("footer checksum mismatch"));
        }
        let version = u32::from_le_bytes(fields[32..36].try_into().expect("4 bytes"));
        match version {
            0 => Err(FooterError::Damaged(
                "minitable format version 0 does not exist",
            )),
            v if v > FORMAT_VERSION => Err(FooterError::UnsupportedVersion(v)),
            _ => Ok(Footer {
                version,
                index: Handle::decode(&fields[..16]).expect("16 bytes"),
                properties: Handle::decode(&fields[16..32]).expect("16 bytes"),
            }),
        }
    }
}

/// What a table holds, as its builder counted it: the properties block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    /// Entries (versions), tombstones included.
    pub entries: u64,
    /// Tombstones.
    pub tombstones: u64,
    /// The smallest sequence number.
    pub min_seq: SeqNo,
    /// The largest sequence number.
    pub max_seq: SeqNo,
    /// Bytes of encoded internal keys and values, as given to the builder.
    pub raw_bytes: u64,
    /// The smallest internal key, encoded.
    pub smallest: Vec<u8>,
    /// The largest internal key, encoded.
    pub largest: Vec<u8>,
    /// The keyspace the table belongs to; [`DEFAULT_KEYSPACE`] in a version 1 table,
    /// which does not record it.
    pub keyspace: KeyspaceId,
    /// Range tombstones in the range-tombstone block, as
    /// `ferris_core::range_del::Tombstones::len` counts them; 0 (and no block) before
    /// version 3. The counts, bounds and sequence numbers above are the data blocks'
    /// alone.
    pub range_tombstones: u64,
    /// Where the range-tombstone block is, between the index and the properties; only
    /// meaningful (and only encoded) when [`Properties::range_tombstones`] is not 0.
    pub range_tombstone_block: Handle,
}

impl Properties {
    /// Encodes the properties as [`FORMAT_VERSION`] lays them out: five varints, then the
    /// two keys, each a varint length and its bytes, then the keyspace, a varint, then
    /// the range-tombstone count, a varint, followed by the range-tombstone block's
    /// [`Handle`] (16 bytes) only when that count is not 0.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [
            self.entries,
            self.tombstones,
            self.min_seq,
            self.max_seq,
            self.raw_bytes,
        ] {
            put_varint64(&mut out, v);
        }
        for key in [&self.smallest, &self.largest] {
            put_varint64(&mut out, key.len() as u64);
            out.extend_from_slice(key);
        }
        put_varint32(&mut out, self.keyspace);
        put_varint64(&mut out, self.range_tombstones);
        if self.range_tombstones > 0 {
            self.range_tombstone_block.encode_into(&mut out);
        }
        out
    }

    /// Decodes properties written in format `version` (the footer's): from version 2 on
    /// they hold the keyspace (before that the table belongs to [`DEFAULT_KEYSPACE`]),
    /// and from version 3 on they end in the range-tombstone count and, when it is not 0,
    /// the range-tombstone block's handle.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for a truncated field (one the version has that is missing) or
    /// bytes after the version's last field.
    pub fn decode(bytes: &[u8], version: u32) -> Result<Properties, DecodeError> {
        let mut d = Decoder::new(bytes);
        let mut p = Properties {
            entries: d.varint64()?,
            tombstones: d.varint64()?,
            min_seq: d.varint64()?,
            max_seq: d.varint64()?,
            raw_bytes: d.varint64()?,
            smallest: d.length_prefixed()?.to_vec(),
            largest: d.length_prefixed()?.to_vec(),
            keyspace: if version >= KEYSPACE_VERSION {
                d.varint32()?
            } else {
                DEFAULT_KEYSPACE
            },
            range_tombstones: 0,
            range_tombstone_block: Handle::default(),
        };
        if version >= RANGE_TOMBSTONE_VERSION {
            p.range_tombstones = d.varint64()?;
            if p.range_tombstones > 0 {
                let at = d.position();
                p.range_tombstone_block =
                    Handle::decode(d.bytes(HANDLE_LEN)?).map_err(|e| e.at(at))?;
            }
        }
        if !d.is_empty() {
            return Err(DecodeError::new(d.position(), "bytes after the properties"));
        }
        Ok(p)
    }
}

/// Where one entry's key and value lie within its block's bytes.
#[derive(Debug, Clone, Copy)]
struct Span {
    key_start: usize,
    /// Also where the value starts.
    key_end: usize,
    value_end: usize,
}

/// A decoded block: its bytes, and where each entry lies in them.
///
/// A block has no restart points, so there is no way into the middle of it: decoding
/// walks it from the front once, checking every length against the bytes present, every
/// key is an internal key and every key sorts after the one before. Lookups then
/// binary-search the decoded positions, and a cursor steps through them both ways. Data
/// blocks and the index block share this one layout.
#[derive(Debug, Clone)]
pub struct Block {
    bytes: Bytes,
    spans: Vec<Span>,
}

impl Block {
    /// Decodes the entries of a block whose checksum has been verified.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for a length that runs past the end, a key that is not an
    /// internal key, keys out of order, or a block with no entries.
    pub fn decode(bytes: Bytes) -> Result<Block, DecodeError> {
        let mut spans = Vec::new();
        let mut d = Decoder::new(&bytes);
        while !d.is_empty() {
            let start = d.position();
            let key_len = len(&mut d)?;
            let value_len = len(&mut d)?;
            let key_start = d.position();
            let key = d.bytes(key_len)?;
            d.bytes(value_len)?;
            InternalKeyRef::decode(key).map_err(|e| e.at(key_start))?;
            if let Some(previous) = spans.last() {
                let previous = &bytes[span_key(previous)];
                if compare_encoded(previous, key) != Ordering::Less {
                    return Err(DecodeError::new(
                        start,
                        "key does not sort after the one before it",
                    ));
                }
            }
            spans.push(Span {
                key_start,
                key_end: key_start + key_len,
                value_end: key_start + key_len + value_len,
            });
        }
        if spans.is_empty() {
            return Err(DecodeError::new(0, "a block with no entries"));
        }
        Ok(Block { bytes, spans })
    }

    /// The bytes the block was decoded from.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The number of entries (at least one, except in [`Block::empty`]).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when the block holds no entries, which a decoded block never does: only
    /// [`Block::empty`] is.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// A block of no entries: the index of a table that holds range tombstones and no
    /// entries, whose index block is stored as zero bytes.
    pub fn empty() -> Block {
        Block {
            bytes: Bytes::new(),
            spans: Vec::new(),
        }
    }

    /// The encoded internal key of entry `i`.
    ///
    /// # Panics
    ///
    /// Panics if `i` is not below [`Block::len`].
    pub fn key(&self, i: usize) -> &[u8] {
        &self.bytes[span_key(&self.spans[i])]
    }

    /// The internal key of entry `i`, decoded (decoding cannot fail: [`Block::decode`]
    /// checked it).
    ///
    /// # Panics
    ///
    /// Panics if `i` is not below [`Block::len`].
    pub fn internal_key(&self, i: usize) -> InternalKeyRef<'_> {
        InternalKeyRef::decode(self.key(i)).expect("checked when the block was decoded")
    }

    /// The value of entry `i`, sharing the block's bytes.
    ///
    /// # Panics
    ///
    /// Panics if `i` is not below [`Block::len`].
    pub fn value(&self, i: usize) -> Bytes {
        let span = self.spans[i];
        self.bytes.slice(span.key_end..span.value_end)
    }

    /// The first entry whose key is at or after the encoded internal key `target`
    /// ([`Block::len`] if none is).
    pub fn seek(&self, target: &[u8]) -> usize {
        self.spans
            .partition_point(|s| compare_encoded(&self.bytes[span_key(s)], target).is_lt())
    }

    /// The number of entries at or before `target`: the last of them is the one
    /// `seek_for_prev` wants.
    pub fn count_at_or_before(&self, target: &[u8]) -> usize {
        self.spans
            .partition_point(|s| compare_encoded(&self.bytes[span_key(s)], target).is_le())
    }
}

fn span_key(span: &Span) -> Range<usize> {
    span.key_start..span.key_end
}

/// A varint length, as a `usize`.
fn len(d: &mut Decoder<'_>) -> Result<usize, DecodeError> {
    let at = d.position();
    usize::try_from(d.varint64()?).map_err(|_| DecodeError::new(at, "length overflows"))
}

#[cfg(test)]
mod tests {
    use ferris_core::{InternalKey, ValueKind};
    use proptest::prelude::*;

    use super::*;

    fn key(user: &str, seq: u64) -> Vec<u8> {
        InternalKey::new(user.as_bytes().to_vec(), seq, ValueKind::Put).encode()
    }

    #[test]
    fn footer_round_trips_and_every_flipped_bit_is_refused() {
        let footer = Footer {
            version: FORMAT_VERSION,
            index: Handle {
                offset: 300,
                size: 40,
            },
            properties: Handle {
                offset: 344,
                size: 30,
            },
        };
        let bytes = footer.encode();
        assert_eq!(Footer::decode(&bytes), Ok(footer));
        assert_eq!(&bytes[40..], b"FRSDBMIN");
        for byte in 0..FOOTER_LEN {
            for bit in 0..8 {
                let mut bad = bytes;
                bad[byte] ^= 1 << bit;
                assert!(
                    matches!(Footer::decode(&bad), Err(FooterError::Damaged(_))),
                    "byte {byte} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn a_newer_version_is_told_apart_from_damage() {
        let mut bytes = Footer {
            version: FORMAT_VERSION,
            index: Handle::default(),
            properties: Handle::default(),
        }
        .encode();
        let newer = FORMAT_VERSION + 1;
        for (version, expected) in [
            (newer, Err(FooterError::UnsupportedVersion(newer))),
            (
                0,
                Err(FooterError::Damaged(
                    "minitable format version 0 does not exist",
                )),
            ),
        ] {
            bytes[32..36].copy_from_slice(&u32::to_le_bytes(version));
            let sum = crc(&bytes[..36]);
            bytes[36..40].copy_from_slice(&sum.to_le_bytes());
            assert_eq!(Footer::decode(&bytes), expected);
        }
    }

    /// A version 1 block is a version 2 block without its last field, and a version 2
    /// block a version 3 block without its range-tombstone count: each is refused as
    /// another, a version 1 table belongs to the default keyspace, and tables before
    /// version 3 have no range tombstones.
    #[test]
    fn properties_decode_by_the_footers_version() {
        let p = Properties {
            entries: 3,
            smallest: key("a", 1),
            largest: key("b", 1),
            keyspace: 7,
            ..Properties::default()
        };
        let v3 = p.encode();
        assert_eq!(Properties::decode(&v3, 3), Ok(p.clone()));
        let with_block = Properties {
            range_tombstones: 2,
            range_tombstone_block: Handle {
                offset: 70,
                size: 12,
            },
            ..p.clone()
        };
        let bytes = with_block.encode();
        assert_eq!(bytes.len(), v3.len() + HANDLE_LEN);
        assert_eq!(Properties::decode(&bytes, 3), Ok(with_block));
        assert_eq!(
            Properties::decode(&bytes[..bytes.len() - 1], 3)
                .unwrap_err()
                .reason,
            "length runs past the end of the input"
        );
        let v2 = v3[..v3.len() - 1].to_vec();
        assert_eq!(
            Properties::decode(&v2, 3).unwrap_err().reason,
            "truncated varint"
        );
        assert_eq!(
            Properties::decode(&v3, 2).unwrap_err().reason,
            "bytes after the properties"
        );
        let v1 = &v2[..v2.len() - 1];
        assert_eq!(Properties::decode(&v2, 2), Ok(p.clone()));
        assert_eq!(
            Properties::decode(v1, 1),
            Ok(Properties {
                keyspace: DEFAULT_KEYSPACE,
                ..p
            })
        );
        let reason = |bytes: &[u8], version| Properties::decode(bytes, version).unwrap_err().reason;
        assert_eq!(reason(v1, 2), "truncated varint");
        assert_eq!(reason(&v2, 1), "bytes after the properties");
        assert_eq!(
            reason(&[&v2[..], &[0]].concat(), 2),
            "bytes after the properties"
        );
    }

    #[test]
    fn blocks_decode_what_put_entry_wrote() {
        let mut raw = Vec::new();
        put_entry(&mut raw, &key("apple", 2), b"green");
        put_entry(&mut raw, &key("apple", 1), b"");
        put_entry(&mut raw, &key("pear", 7), b"ripe");
        let block = Block::decode(Bytes::from(raw)).unwrap();
        assert_eq!(block.len(), 3);
        assert_eq!(block.key(0), key("apple", 2));
        assert_eq!(block.value(1), Bytes::new());
        assert_eq!(block.internal_key(2).user_key, b"pear");
        assert_eq!(block.seek(&key("apple", 1)), 1);
        assert_eq!(block.seek(&key("b", 9)), 2);
        assert_eq!(block.seek(&key("z", 9)), 3);
        assert_eq!(block.count_at_or_before(&key("apple", 1)), 2);
        assert_eq!(block.count_at_or_before(&key("a", 1)), 0);
    }

    #[test]
    fn blocks_refuse_disorder_emptiness_and_lengths_past_the_end() {
        let mut raw = Vec::new();
        put_entry(&mut raw, &key("b", 1), b"");
        put_entry(&mut raw, &key("a", 1), b"");
        let reason = |raw: Vec<u8>| Block::decode(Bytes::from(raw)).unwrap_err().reason;
        assert_eq!(reason(raw), "key does not sort after the one before it");
        assert_eq!(reason(Vec::new()), "a block with no entries");
        let mut raw = Vec::new();
        put_entry(&mut raw, &key("a", 1), b"value");
        raw.pop();
        assert_eq!(reason(raw), "length runs past the end of the input");
        let mut raw = Vec::new();
        put_entry(&mut raw, b"short", b"");
        assert_eq!(reason(raw), "internal key shorter than its trailer");
    }

    proptest! {
        #[test]
        fn properties_round_trip(
            n in any::<u64>(),
            smallest in proptest::collection::vec(any::<u8>(), 0..20),
            largest in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let p = Properties {
                entries: n,
                tombstones: n / 3,
                min_seq: n >> 9,
                max_seq: n >> 8,
                raw_bytes: n.wrapping_mul(3),
                smallest,
                largest,
                keyspace: (n >> 32) as u32,
                range_tombstones: n % 3,
                range_tombstone_block: if n % 3 > 0 {
                    Handle { offset: n >> 4, size: n >> 50 }
                } else {
                    Handle::default()
                },
            };
            prop_assert_eq!(Properties::decode(&p.encode(), FORMAT_VERSION).unwrap(), p);
        }

        /// The decoders take any bytes without panicking.
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for version in 1..=FORMAT_VERSION {
                let _ = Properties::decode(&bytes, version);
            }
            let _ = Handle::decode(&bytes);
            if let Ok(block) = Block::decode(Bytes::from(bytes.clone())) {
                for i in 0..block.len() {
                    let _ = (block.internal_key(i), block.value(i));
                }
            }
            let head = &bytes[..bytes.len().min(FOOTER_LEN)];
            if let Ok(footer) = <[u8; FOOTER_LEN]>::try_from(head) {
                let _ = Footer::decode(&footer);
            }
        }
    }
}
