//! CURRENT: the one-line file naming the live manifest, replaced atomically.

use std::path::Path;

use ferris_core::checksum::masked_crc32c;
use ferris_core::{IoResultExt, UnsupportedVersion};
use ferris_fs::FileSystem;

use crate::error::{Error, Result};
use crate::manifest::{manifest_file_name, parse_manifest_file_name};

/// The file name of the pointer.
pub const CURRENT: &str = "CURRENT";

/// The name CURRENT is written under before it is renamed into place.
pub const CURRENT_TMP: &str = "CURRENT.tmp";

/// The first word of CURRENT.
pub const CURRENT_MAGIC: &str = "FRSDBCUR";

/// The CURRENT format this build writes and the newest it reads.
pub const CURRENT_VERSION: u32 = 1;

/// CURRENT's exact contents for manifest `number`:
/// `FRSDBCUR 1 MANIFEST-000005 c0ffee12\n`, the last word being the masked CRC-32C of
/// everything before the space that precedes it, as eight lowercase hex digits.
pub fn encode_current(number: u64) -> String {
    let body = format!(
        "{CURRENT_MAGIC} {CURRENT_VERSION} {}",
        manifest_file_name(number)
    );
    let crc = masked_crc32c(&[body.as_bytes()]);
    format!("{body} {crc:08x}\n")
}

/// Parses CURRENT's contents into the manifest number it names.
///
/// # Errors
///
/// [`Error::Corruption`] if the contents are malformed or fail their checksum;
/// [`Error::UnsupportedVersion`] for a newer version.
pub fn decode_current(path: &Path, bytes: &[u8]) -> Result<u64> {
    let corrupt = |reason: &str| Error::corruption(path, 0, reason);
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt("CURRENT is not text"))?;
    let line = text
        .strip_suffix('\n')
        .ok_or_else(|| corrupt("CURRENT does not end in a newline"))?;
    let (body, crc) = line
        .rsplit_once(' ')
        .ok_or_else(|| corrupt("CURRENT has no checksum"))?;
    let stored =
        u32::from_str_radix(crc, 16).map_err(|_| corrupt("CURRENT's checksum is not hex"))?;
    // Lowercase only: `A` and `a` differ by one bit, and both would parse to the same value.
    let lowercase_hex = crc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if crc.len() != 8 || !lowercase_hex || stored != masked_crc32c(&[body.as_bytes()]) {
        return Err(corrupt("CURRENT checksum mismatch"));
    }
    let mut words = body.split(' ');
    let (Some(magic), Some(version), Some(name), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(corrupt("CURRENT does not have three fields"));
    };
    if magic != CURRENT_MAGIC {
        return Err(corrupt("CURRENT does not start with FRSDBCUR"));
    }
    let version: u32 = version
        .parse()
        .map_err(|_| corrupt("CURRENT's version is not a number"))?;
    if version > CURRENT_VERSION {
        return Err(Error::UnsupportedVersion(UnsupportedVersion {
            file: path.to_path_buf(),
            format: "CURRENT",
            found: version,
            supported: CURRENT_VERSION,
        }));
    }
    parse_manifest_file_name(name).ok_or_else(|| corrupt("CURRENT does not name a manifest"))
}

/// Reads CURRENT in `dir`: the number of the live manifest, or `None` if there is no
/// CURRENT (the directory holds no database yet).
///
/// # Errors
///
/// As [`decode_current`], plus [`Error::Io`] if it cannot be read.
pub fn read_current(fs: &dyn FileSystem, dir: &Path) -> Result<Option<u64>> {
    let path = dir.join(CURRENT);
    let file = match fs.open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    // CURRENT is one short line; anything long is not ours, and need not be read whole.
    let len = file.len().min(256);
    let bytes = file.read_vec(0, len).at(&path)?;
    decode_current(&path, &bytes).map(Some)
}

/// Where a database's manifest stands: the number CURRENT names and that manifest's
/// length in bytes (0 if it is gone); `None` without CURRENT.
///
/// A writer changes the set of live files only by appending an edit to the manifest or
/// switching to a new one, and deletes a file (a table, a WAL segment, an old manifest)
/// only after the change that let it go. So a reader that found a file missing while the
/// position moved met a writer at work, not damage: it compares the position before its
/// read with the one after.
///
/// # Errors
///
/// As [`read_current`]; [`Error::Io`] if the manifest is there but cannot be opened.
pub fn manifest_position(fs: &dyn FileSystem, dir: &Path) -> Result<Option<(u64, u64)>> {
    let Some(number) = read_current(fs, dir)? else {
        return Ok(None);
    };
    let path = dir.join(manifest_file_name(number));
    let len = match fs.open(&path) {
        Ok(file) => file.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Error::io(path, e)),
    };
    Ok(Some((number, len)))
}

/// How a [`read_consistent`] that found no consistent state ended.
#[derive(Debug)]
pub enum Raced<E> {
    /// The same failure twice in a row while the manifest stood still: the database's
    /// own state (damage, a missing file), not a writer's doing.
    Failed(E),
    /// Every attempt failed while the manifest moved: a writer kept changing the
    /// database. `last` is the last attempt's failure.
    Changing {
        /// The attempts made.
        attempts: usize,
        /// Why the last one failed.
        last: E,
    },
}

/// Runs `read` (which reads a database's files: CURRENT, the manifest, what it names)
/// until it succeeds, at most `attempts` times (at least once), for a reader that takes no lock beside a
/// writer that may retire files under it.
///
/// A failed attempt is one that met a writer at work if the [`manifest_position`] moved
/// while it ran, or if it failed differently from the attempt before (a WAL record being
/// appended while it was read, say): it starts over. The same failure twice over a
/// manifest that stood still is returned as [`Raced::Failed`], so damage is never passed
/// off as a race.
///
/// # Errors
///
/// [`Raced::Failed`] as above, or for a position that cannot be read; [`Raced::Changing`]
/// once the attempts are used up.
pub fn read_consistent<T, E: std::fmt::Display + From<Error>>(
    fs: &dyn FileSystem,
    dir: &Path,
    attempts: usize,
    mut read: impl FnMut() -> std::result::Result<T, E>,
) -> std::result::Result<T, Raced<E>> {
    let position = || manifest_position(fs, dir).map_err(|e| Raced::Failed(E::from(e)));
    let (mut last, mut attempt) = (None, 0);
    loop {
        attempt += 1;
        let before = position()?;
        let e = match read() {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let message = e.to_string();
        if last.as_ref() == Some(&message) && position()? == before {
            return Err(Raced::Failed(e));
        }
        if attempt >= attempts {
            return Err(Raced::Changing {
                attempts: attempt,
                last: e,
            });
        }
        tracing::debug!(error = %message, "a read met a writer's change; starting over");
        last = Some(message);
    }
}

/// Points CURRENT at manifest `number`, atomically: the new contents are written to
/// `CURRENT.tmp` and synced, renamed over CURRENT, and the directory is synced. A crash
/// at any point leaves CURRENT naming either the old manifest or the new one, whole.
///
/// # Errors
///
/// [`Error::Io`] for any failed step. After a failure CURRENT names one of the two
/// manifests, and which one is unknown until the directory is read again: keep both.
pub fn write_current(fs: &dyn FileSystem, dir: &Path, number: u64) -> Result<()> {
    let tmp = dir.join(CURRENT_TMP);
    match fs.remove(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(tmp, e)),
    }
    let mut file = fs.create(&tmp).at(&tmp)?;
    file.append(encode_current(number).as_bytes()).at(&tmp)?;
    file.sync().at(&tmp)?;
    drop(file);
    let current = dir.join(CURRENT);
    fs.rename(&tmp, &current).at(&tmp)?;
    fs.sync_dir(dir).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn current_round_trips() {
        let text = encode_current(5);
        assert!(text.starts_with("FRSDBCUR 1 MANIFEST-000005 "), "{text}");
        assert_eq!(
            decode_current(Path::new("CURRENT"), text.as_bytes()).unwrap(),
            5
        );
    }

    #[test]
    fn every_bit_flip_is_caught() {
        let text = encode_current(123_456).into_bytes();
        for bit in 0..text.len() * 8 {
            let mut bad = text.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let err = decode_current(Path::new("CURRENT"), &bad).unwrap_err();
            assert!(err.is_corruption(), "bit {bit}: {err}");
        }
    }

    #[test]
    fn a_newer_version_is_refused_by_name() {
        let body = format!("{CURRENT_MAGIC} 2 MANIFEST-000001");
        let text = format!("{body} {:08x}\n", masked_crc32c(&[body.as_bytes()]));
        let err = decode_current(Path::new("CURRENT"), text.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedVersion(v) if v.found == 2 && v.format == "CURRENT"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_current(Path::new("CURRENT"), &bytes);
        }
    }
}
