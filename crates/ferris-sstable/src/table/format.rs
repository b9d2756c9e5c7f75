//! The table file's fixed parts: block handles, block trailers, the properties and the
//! footer. `docs/format/table.md` is the byte-level specification.

use ferris_core::coding::{Decoder, put_varint32, put_varint64};
use ferris_core::{DEFAULT_KEYSPACE, DecodeError, KeyspaceId, SeqNo};

/// The last 8 bytes of every table file.
pub const MAGIC: [u8; 8] = *b"FRSDBSST";

/// The table format version this build writes, and the newest it reads. Version 2 added
/// [`Properties::keyspace`], version 3 range tombstones ([`Properties::range_tombstones`]
/// and their block); version 1 tables still read, as tables of the default keyspace,
/// and version 1 and 2 tables as tables without range tombstones.
pub const FORMAT_VERSION: u32 = 3;

/// The first format version whose properties record the table's keyspace.
pub const KEYSPACE_VERSION: u32 = 2;

/// The first format version that stores range tombstones.
pub const RANGE_TOMBSTONE_VERSION: u32 = 3;

/// Size of the footer at the end of every table.
pub const FOOTER_LEN: usize = 64;

/// Size of the trailer after every stored block: compression (1) and crc32c (4).
pub const BLOCK_TRAILER_LEN: usize = 5;

/// The largest a block may be once decompressed (256 MiB). A compressed block claiming more
/// is corrupt, so no input can make a reader allocate more.
pub const MAX_BLOCK_LEN: u64 = 256 << 20;

/// How a stored block is compressed. The values are part of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Compression {
    /// Stored as is.
    None = 0,
    /// `uncompressed length: u32 LE` followed by a zstd frame.
    Zstd = 1,
}

impl Compression {
    /// Decodes a compression byte.
    pub fn from_u8(tag: u8) -> Option<Compression> {
        match tag {
            0 => Some(Compression::None),
            1 => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// Where a block is in the file: its offset and stored size (without the trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHandle {
    /// Offset of the block's first byte.
    pub offset: u64,
    /// Stored size in bytes, excluding the 5-byte trailer.
    pub size: u64,
}

impl BlockHandle {
    /// Appends the handle as two varints (as it is stored in the index block).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        put_varint64(out, self.offset);
        put_varint64(out, self.size);
    }

    /// Decodes a handle stored as two varints.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for truncated or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<BlockHandle, DecodeError> {
        let mut d = Decoder::new(bytes);
        let handle = BlockHandle {
            offset: d.varint64()?,
            size: d.varint64()?,
        };
        if !d.is_empty() {
            return Err(DecodeError::new(d.position(), "bytes after a block handle"));
        }
        Ok(handle)
    }
}

/// The masked CRC-32C (`ferris_core::checksum`) of a stored block and its compression byte.
pub fn block_crc(stored: &[u8], compression: u8) -> u32 {
    ferris_core::checksum::masked_crc32c(&[stored, &[compression]])
}

/// The footer: where the index, filter and properties blocks are, and the format version
/// of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The format version the table was written in ([`FORMAT_VERSION`] for a table this
    /// build writes): it says how to decode the properties.
    pub version: u32,
    /// The index block.
    pub index: BlockHandle,
    /// The filter block.
    pub filter: BlockHandle,
    /// The properties block.
    pub properties: BlockHandle,
}

/// Why a footer was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FooterError {
    /// Wrong magic or checksum, or a non-zero reserved field.
    Damaged(&'static str),
    /// An intact footer from a newer format version.
    UnsupportedVersion(u32),
}

impl Footer {
    /// Encodes the footer.
    ///
    /// ```text
    /// 0       16       32          48        52         56     64
    /// | index | filter | properties | version | checksum | magic |
    /// ```
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut f = [0u8; FOOTER_LEN];
        for (i, h) in [self.index, self.filter, self.properties]
            .iter()
            .enumerate()
        {
            f[16 * i..16 * i + 8].copy_from_slice(&h.offset.to_le_bytes());
            f[16 * i + 8..16 * i + 16].copy_from_slice(&h.size.to_le_bytes());
        }
        f[48..52].copy_from_slice(&self.version.to_le_bytes());
        let crc = block_crc(&f[..52], 0);
        f[52..56].copy_from_slice(&crc.to_le_bytes());
        f[56..64].copy_from_slice(&MAGIC);
        f
    }

    /// Decodes and verifies a footer.
    ///
    /// # Errors
    ///
    /// [`FooterError::Damaged`] for a wrong magic or checksum, and
    /// [`FooterError::UnsupportedVersion`] for an intact footer of a newer version.
    pub fn decode(f: &[u8; FOOTER_LEN]) -> Result<Footer, FooterError> {
        if f[56..64] != MAGIC {
            return Err(FooterError::Damaged("not a table file (bad magic)"));
        }
        if u32::from_le_bytes(f[52..56].try_into().expect("4 bytes")) != block_crc(&f[..52], 0) {
            return Err(FooterError::Damaged("footer checksum mismatch"));
        }
        let version = u32::from_le_bytes(f[48..52].try_into().expect("4 bytes"));
        if version > FORMAT_VERSION {
            return Err(FooterError::UnsupportedVersion(version));
        }
        if version == 0 {
            return Err(FooterError::Damaged(
                "table format version 0 does not exist",
            ));
        }
        let handle = |i: usize| BlockHandle {
            offset: u64::from_le_bytes(f[16 * i..16 * i + 8].try_into().expect("8 bytes")),
            size: u64::from_le_bytes(f[16 * i + 8..16 * i + 16].try_into().expect("8 bytes")),
        };
        Ok(Footer {
            version,
            index: handle(0),
            filter: handle(1),
            properties: handle(2),
        })
    }
}

/// What a table holds, recorded when it is written so readers need not scan it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Properties {
    /// Entries (versions), tombstones included.
    pub n_entries: u64,
    /// Tombstones.
    pub n_tombstones: u64,
    /// Data blocks.
    pub n_data_blocks: u64,
    /// The smallest internal key, encoded.
    pub smallest_key: Vec<u8>,
    /// The largest internal key, encoded.
    pub largest_key: Vec<u8>,
    /// The smallest sequence number.
    pub min_seq: SeqNo,
    /// The largest sequence number.
    pub max_seq: SeqNo,
    /// Bytes of keys and values as given to the writer.
    pub raw_bytes: u64,
    /// Bytes of data blocks before compression.
    pub data_uncompressed_bytes: u64,
    /// Bytes of data blocks as stored (after compression, without trailers).
    pub data_stored_bytes: u64,
    /// The keyspace the table belongs to; [`DEFAULT_KEYSPACE`] in a version 1 table,
    /// which does not record it.
    pub keyspace: KeyspaceId,
    /// Range tombstones in the range-tombstone block, as
    /// `ferris_core::range_del::Tombstones::len` counts them; 0 (and no block) before
    /// version 3. The bounds and sequence numbers above are the data blocks' alone.
    pub range_tombstones: u64,
    /// Where the range-tombstone block is; only meaningful (and only encoded) when
    /// [`Properties::range_tombstones`] is not 0: a table without range tombstones has
    /// no such block.
    pub range_tombstone_block: BlockHandle,
}

impl Properties {
    /// Encodes the properties as [`FORMAT_VERSION`] lays them out: varints and
    /// length-prefixed keys, in field order, the block handle (two varints) only after a
    /// range-tombstone count that is not 0.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [self.n_entries, self.n_tombstones, self.n_data_blocks] {
            put_varint64(&mut out, v);
        }
        for k in [&self.smallest_key, &self.largest_key] {
            put_varint64(&mut out, k.len() as u64);
            out.extend_from_slice(k);
        }
        for v in [
            self.min_seq,
            self.max_seq,
            self.raw_bytes,
            self.data_uncompressed_bytes,
            self.data_stored_bytes,
        ] {
            put_varint64(&mut out, v);
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
    /// A [`DecodeError`] for truncated or trailing bytes: a field the version has that is
    /// missing, or bytes after the version's last field.
    pub fn decode(bytes: &[u8], version: u32) -> Result<Properties, DecodeError> {
        let mut d = Decoder::new(bytes);
        let mut p = Properties {
            n_entries: d.varint64()?,
            n_tombstones: d.varint64()?,
            n_data_blocks: d.varint64()?,
            smallest_key: d.length_prefixed()?.to_vec(),
            largest_key: d.length_prefixed()?.to_vec(),
            min_seq: d.varint64()?,
            max_seq: d.varint64()?,
            raw_bytes: d.varint64()?,
            data_uncompressed_bytes: d.varint64()?,
            data_stored_bytes: d.varint64()?,
            keyspace: if version >= KEYSPACE_VERSION {
                d.varint32()?
            } else {
                DEFAULT_KEYSPACE
            },
            range_tombstones: 0,
            range_tombstone_block: BlockHandle::default(),
        };
        if version >= RANGE_TOMBSTONE_VERSION {
            p.range_tombstones = d.varint64()?;
            if p.range_tombstones > 0 {
                p.range_tombstone_block = BlockHandle {
                    offset: d.varint64()?,
                    size: d.varint64()?,
                };
            }
        }
        if !d.is_empty() {
            return Err(DecodeError::new(d.position(), "bytes after the properties"));
        }
        Ok(p)
    }
}

/// The shortest key `s` with `a <= s < b` by bytes, or `a` itself when none is shorter.
/// Index entries use it so the index stays small (LevelDB's `FindShortestSeparator`).
pub fn shortest_separator(a: &[u8], b: &[u8]) -> Vec<u8> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if common < a.len() && common < b.len() {
        let byte = a[common];
        if byte < 0xff && byte + 1 < b[common] {
            let mut s = a[..=common].to_vec();
            s[common] += 1;
            return s;
        }
    }
    a.to_vec()
}

/// The shortest key `s >= a` (LevelDB's `FindShortSuccessor`): the first byte that can be
/// incremented is, and the rest dropped.
pub fn short_successor(a: &[u8]) -> Vec<u8> {
    match a.iter().position(|&b| b != 0xff) {
        Some(i) => {
            let mut s = a[..=i].to_vec();
            s[i] += 1;
            s
        }
        None => a.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn footer_round_trips_and_every_damage_is_caught() {
        let footer = Footer {
            version: FORMAT_VERSION,
            index: BlockHandle {
                offset: 100,
                size: 20,
            },
            filter: BlockHandle {
                offset: 50,
                size: 45,
            },
            properties: BlockHandle { offset: 1, size: 2 },
        };
        let bytes = footer.encode();
        assert_eq!(Footer::decode(&bytes), Ok(footer));
        for byte in 0..FOOTER_LEN {
            let mut bad = bytes;
            bad[byte] ^= 0x04;
            assert!(
                matches!(Footer::decode(&bad), Err(FooterError::Damaged(_))),
                "byte {byte}"
            );
        }
    }

    /// A version 1 block is a version 2 block without its last field, and a version 2
    /// block a version 3 block without its range-tombstone count: each is refused as
    /// another, a version 1 table belongs to the default keyspace, and tables before
    /// version 3 hold no range tombstones.
    #[test]
    fn properties_decode_by_the_footers_version() {
        let p = Properties {
            n_entries: 3,
            smallest_key: b"a\0\0\0\0\0\0\0\x01".to_vec(),
            keyspace: 7,
            ..Properties::default()
        };
        let v3 = p.encode();
        assert_eq!(Properties::decode(&v3, 3), Ok(p.clone()));
        let v2 = &v3[..v3.len() - 1];
        assert_eq!(
            Properties::decode(v2, 3).unwrap_err().reason,
            "truncated varint"
        );
        assert_eq!(
            Properties::decode(&v3, 2).unwrap_err().reason,
            "bytes after the properties"
        );
        let with_block = Properties {
            range_tombstones: 4,
            range_tombstone_block: BlockHandle {
                offset: 9,
                size: 30,
            },
            ..p.clone()
        };
        let bytes = with_block.encode();
        assert_eq!(Properties::decode(&bytes, 3), Ok(with_block));
        assert_eq!(
            bytes.len(),
            v3.len() + 2,
            "a handle of two one-byte varints"
        );
        let v2 = v2.to_vec();
        let v1 = &v2[..v2.len() - 1];
        assert_eq!(Properties::decode(&v2, 2), Ok(p.clone()));
        let as_v1 = Properties::decode(v1, 1).unwrap();
        assert_eq!(as_v1.keyspace, DEFAULT_KEYSPACE);
        assert_eq!(as_v1, Properties { keyspace: 0, ..p });
        assert_eq!(
            Properties::decode(v1, 2).unwrap_err().reason,
            "truncated varint"
        );
        assert_eq!(
            Properties::decode(&v2, 1).unwrap_err().reason,
            "bytes after the properties"
        );
        let mut trailing = v2.clone();
        trailing.push(0);
        assert_eq!(
            Properties::decode(&trailing, 2).unwrap_err().reason,
            "bytes after the properties"
        );
    }

    #[test]
    fn separators_are_short_and_between() {
        assert_eq!(shortest_separator(b"abcd", b"abzz"), b"abd");
        assert_eq!(
            shortest_separator(b"abc", b"abd"),
            b"abc",
            "no room between c and d"
        );
        assert_eq!(
            shortest_separator(b"ab", b"abc"),
            b"ab",
            "a is a prefix of b"
        );
        assert_eq!(short_successor(b"abc"), b"b");
        assert_eq!(short_successor(b"\xff\xffa"), b"\xff\xffb");
        assert_eq!(short_successor(b"\xff"), b"\xff");
    }

    proptest! {
        #[test]
        fn separator_lies_between(a in proptest::collection::vec(any::<u8>(), 0..8), b in proptest::collection::vec(any::<u8>(), 0..8)) {
            prop_assume!(a < b);
            let s = shortest_separator(&a, &b);
            prop_assert!(a <= s && s < b);
            prop_assert!(s.len() <= a.len());
            prop_assert!(short_successor(&a) >= a);
        }

        #[test]
        fn properties_round_trip(n in any::<u64>(), keyspace in any::<u32>(), k in proptest::collection::vec(any::<u8>(), 0..10)) {
            let range_tombstone_block = BlockHandle { offset: n >> 3, size: n >> 40 };
            let range_tombstones = n % 3;
            let p = Properties { n_entries: n, smallest_key: k.clone(), largest_key: k, max_seq: n >> 8, keyspace, range_tombstones, range_tombstone_block: if range_tombstones > 0 { range_tombstone_block } else { BlockHandle::default() }, ..Properties::default() };
            prop_assert_eq!(Properties::decode(&p.encode(), FORMAT_VERSION).unwrap(), p);
        }

        /// Properties decode strictly by version: never a panic, and each version's
        /// fields exactly, with nothing missing and nothing after them.
        #[test]
        fn properties_decode_any_bytes_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64), version in 1..=FORMAT_VERSION) {
            let _ = Properties::decode(&bytes, version);
        }
    }
}
