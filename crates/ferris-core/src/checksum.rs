//! The checksum every FerrisDB file uses: CRC-32C, masked.
//!
//! CRC-32C (Castagnoli) catches every burst error up to 32 bits and has hardware support on
//! modern CPUs, so checking every block on every read is cheap. The stored value is
//! **masked**: rotated right by 15 bits and offset by a constant, as LevelDB does. Without
//! the mask, the checksum of bytes that themselves end in their own CRC-32C is a constant,
//! so a record holding another record (a table block in a log, say) would checksum
//! degenerately.
//!
//! ```
//! use ferris_core::checksum::{masked_crc32c, unmask};
//!
//! let crc = masked_crc32c(&[b"hello, ", b"world"]);
//! assert_eq!(crc, masked_crc32c(&[b"hello, world"]), "parts are checksummed as one run");
//! assert_eq!(unmask(crc), crc32c::crc32c(b"hello, world"));
//! ```

const MASK_DELTA: u32 = 0xa282_ead8;

/// Masks a CRC-32C for storage.
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Undoes [`mask`].
pub fn unmask(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

/// The masked CRC-32C of `parts` taken as one run of bytes.
pub fn masked_crc32c(parts: &[&[u8]]) -> u32 {
    mask(
        parts
            .iter()
            .fold(0, |crc, part| crc32c::crc32c_append(crc, part)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn unmask_inverts_mask(crc in any::<u32>()) {
            prop_assert_eq!(unmask(mask(crc)), crc);
        }
    }

    #[test]
    fn known_value() {
        // CRC-32C of "123456789" is 0xe3069283 (the standard check value).
        assert_eq!(unmask(masked_crc32c(&[b"123456789"])), 0xe306_9283);
    }
}
