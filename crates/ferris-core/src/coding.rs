//! Integer coding shared by every on-disk format: little-endian fixed-width integers and
//! LEB128 varints.
//!
//! A varint stores 7 bits per byte, low bits first; the high bit of each byte says "more
//! follows". Small numbers (most lengths) take one byte:
//!
//! ```text
//! 300 = 0b1_0010_1100  ->  [0b1010_1100, 0b0000_0010]
//!                            ^ more       ^ last
//! ```
//!
//! Decoders take untrusted bytes: they never panic, reject over-long encodings and values
//! that overflow their type, and report the byte offset of the problem.
//!
//! ```
//! use ferris_core::coding::{put_varint64, Decoder};
//!
//! let mut buf = Vec::new();
//! put_varint64(&mut buf, 300);
//! assert_eq!(buf, [0xac, 0x02]);
//! let mut d = Decoder::new(&buf);
//! assert_eq!(d.varint64()?, 300);
//! assert!(d.is_empty());
//! # Ok::<(), ferris_core::DecodeError>(())
//! ```

use crate::DecodeError;

/// The longest a varint-encoded `u64` can be.
pub const MAX_VARINT64_LEN: usize = 10;

/// Appends `value` as a LEB128 varint.
pub fn put_varint64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `value` as a LEB128 varint.
pub fn put_varint32(out: &mut Vec<u8>, value: u32) {
    put_varint64(out, u64::from(value));
}

/// The number of bytes [`put_varint64`] writes for `value`.
pub fn varint_len(mut value: u64) -> usize {
    let mut n = 1;
    while value >= 0x80 {
        value >>= 7;
        n += 1;
    }
    n
}

/// A cursor over untrusted bytes that decodes integers and slices, tracking its offset so
/// errors can say where the input went wrong.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// Starts decoding at the beginning of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not yet consumed.
    #[inline]
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// True when every byte has been consumed.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError::new(self.pos, reason)
    }

    /// Takes the next `n` bytes.
    ///
    /// # Errors
    ///
    /// Fails if fewer than `n` bytes remain.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.remaining();
        if rest.len() < n {
            return Err(self.err("length runs past the end of the input"));
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    /// Takes one byte.
    ///
    /// # Errors
    ///
    /// Fails at the end of the input.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    /// Takes a little-endian `u32`.
    ///
    /// # Errors
    ///
    /// Fails if fewer than 4 bytes remain.
    pub fn u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(
            self.bytes(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// Takes a little-endian `u64`.
    ///
    /// # Errors
    ///
    /// Fails if fewer than 8 bytes remain.
    pub fn u64_le(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// Takes a varint-encoded `u64`.
    ///
    /// # Errors
    ///
    /// Fails on a truncated varint, one longer than 10 bytes, or one that overflows 64 bits.
    #[inline]
    pub fn varint64(&mut self) -> Result<u64, DecodeError> {
        // Most varints in a block (lengths, shared-prefix counts) are one byte: take those
        // here, where the caller can inline it, and leave the loop to the rest.
        if let Some(&byte) = self.buf.get(self.pos)
            && byte < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        self.varint64_multibyte()
    }

    fn varint64_multibyte(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..MAX_VARINT64_LEN {
            let Some(&byte) = self.buf.get(self.pos) else {
                self.pos = start;
                return Err(DecodeError::new(start, "truncated varint"));
            };
            self.pos += 1;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may only carry the single top bit of a u64.
            if i == MAX_VARINT64_LEN - 1 && bits > 1 {
                self.pos = start;
                return Err(DecodeError::new(start, "varint overflows 64 bits"));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.pos = start;
        Err(DecodeError::new(start, "varint longer than 10 bytes"))
    }

    /// Takes a varint-encoded `u32`.
    ///
    /// # Errors
    ///
    /// Fails like [`Decoder::varint64`], or if the value does not fit in 32 bits.
    #[inline]
    pub fn varint32(&mut self) -> Result<u32, DecodeError> {
        let start = self.pos;
        let v = self.varint64()?;
        u32::try_from(v).map_err(|_| DecodeError::new(start, "varint overflows 32 bits"))
    }

    /// Takes a varint length followed by that many bytes.
    ///
    /// # Errors
    ///
    /// Fails if the length is malformed or runs past the end of the input. The length is
    /// checked against the input before anything is sliced, so a bogus length costs nothing.
    pub fn length_prefixed(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let len = self.varint64()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::new(start, "length overflows"))?;
        self.bytes(len).inspect_err(|_| self.pos = start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[rstest::rstest]
    #[case(0, &[0x00])]
    #[case(1, &[0x01])]
    #[case(127, &[0x7f])]
    #[case(128, &[0x80, 0x01])]
    #[case(300, &[0xac, 0x02])]
    #[case(u64::MAX, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]
    fn varint_known_encodings(#[case] value: u64, #[case] bytes: &[u8]) {
        let mut out = Vec::new();
        put_varint64(&mut out, value);
        assert_eq!(out, bytes);
        assert_eq!(varint_len(value), bytes.len());
        assert_eq!(Decoder::new(bytes).varint64().unwrap(), value);
    }

    #[test]
    fn varint_rejects_overflow_and_truncation() {
        let too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            Decoder::new(&too_big).varint64().unwrap_err().reason,
            "varint overflows 64 bits"
        );
        assert_eq!(
            Decoder::new(&[0x80, 0x80]).varint64().unwrap_err().reason,
            "truncated varint"
        );
        assert_eq!(
            Decoder::new(&[0x80; 11]).varint64().unwrap_err().reason,
            "varint longer than 10 bytes"
        );
        let mut big = Vec::new();
        put_varint64(&mut big, u64::from(u32::MAX) + 1);
        assert_eq!(
            Decoder::new(&big).varint32().unwrap_err().reason,
            "varint overflows 32 bits"
        );
    }

    #[test]
    fn bogus_length_prefix_is_an_error_not_an_allocation() {
        let mut buf = Vec::new();
        put_varint64(&mut buf, u64::MAX);
        buf.extend_from_slice(b"tiny");
        let mut d = Decoder::new(&buf);
        assert!(d.length_prefixed().is_err());
        assert_eq!(d.position(), 0, "a failed read consumes nothing");
    }

    proptest! {
        #[test]
        fn varint_round_trips(v in any::<u64>()) {
            let mut out = Vec::new();
            put_varint64(&mut out, v);
            let mut d = Decoder::new(&out);
            prop_assert_eq!(d.varint64().unwrap(), v);
            prop_assert!(d.is_empty());
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut d = Decoder::new(&bytes);
            while !d.is_empty() {
                if d.length_prefixed().is_err() && d.u8().is_err() {
                    break;
                }
            }
        }
    }
}
