//! Damaged bytes: every one reported, none answered wrongly, nothing panics.

use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_table::{ReadOptions, TableFormat, TableOptions};
use rand::Rng;

use super::HOSTILE_SEEDS;
use super::generate::{self, Shape, probes};
use super::harness::{
    Answer, Disk, NUMBER, build_with, describe_read, difference, open, reads, reported_as_damage,
};
use crate::failure::{Checking, Context, Outcome, Problem, ensure};
use crate::{Failure, random};

/// A small table of several blocks and two range tombstones, its bytes, the lookups that
/// read all of it, and the answers of the intact table to every read.
struct Small {
    bytes: Vec<u8>,
    probes: Vec<(bytes::Bytes, u64)>,
    clean: Vec<Answer>,
}

fn small_table(checking: Checking<'_>, format: &dyn TableFormat) -> Result<Small, Failure> {
    checking.case("writing the small table to damage", || {
        let mut rng = random::rng(7);
        let shape = Shape {
            keys: 10,
            versions: 3,
            long_keys: false,
            max_value: 24,
        };
        let model = generate::entries(&mut rng, shape);
        let mut options = TableOptions::default();
        options.block_size = 64;
        // Over the second and third user keys, newer than half the versions; and from
        // the last key on, with no end, older than every version.
        let keys = model.user_keys();
        let mut seqs: Vec<u64> = model.entries().iter().map(|(k, _)| k.seq()).collect();
        seqs.sort_unstable();
        let tombstones = Tombstones::new([
            RangeTombstone::new(keys[1].clone(), Some(keys[3].clone()), seqs[seqs.len() / 2]),
            RangeTombstone::new(keys[keys.len() - 1].clone(), None, 1),
        ]);
        let disk = Disk::new(0);
        build_with(format, &disk, model.entries(), &tombstones, &options).context("a build")?;
        let bytes = disk.read_file(&format.file_name(NUMBER))?;
        let probes = probes(&model, &mut rng, 3);
        let reader = open(format, &disk, &ReadOptions::default()).context("open")?;
        let clean = reads(&reader, &probes)
            .into_iter()
            .enumerate()
            .map(|(i, answer)| answer.context(describe_read(i, &probes)))
            .collect::<Outcome<_>>()?;
        Ok(Small {
            bytes,
            probes,
            clean,
        })
    })
}

/// What the damaged bytes must at least do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Demand {
    /// Be reported by `open`, a read or `verify`: a flipped bit or a truncation.
    Detection,
    /// Give no wrong answer: random bytes overwritten may be the ones that were there.
    NoWrongAnswer,
    /// Only fail in the ways damage may fail: bytes that were never a table.
    NoPanic,
}

/// Puts `bytes` where table [`NUMBER`] belongs and reads everything: `open`, the
/// reads, `verify`. Every error must be damage naming the file; every answer the
/// intact table's (unless the bytes were never a table); and with
/// [`Demand::Detection`], something must report the damage.
fn judge(format: &dyn TableFormat, bytes: &[u8], small: &Small, demand: Demand) -> Outcome {
    let disk = Disk::new(0);
    disk.put_file(&format.file_name(NUMBER), bytes)?;
    let path = disk.table_path(format);
    let reader = match open(format, &disk, &ReadOptions::default()) {
        Ok(reader) => reader,
        Err(e) => return reported_as_damage(&e, &path).map_err(|p| p.within("open")),
    };
    let mut detected = false;
    for (i, answer) in reads(&reader, &small.probes).into_iter().enumerate() {
        let what = || describe_read(i, &small.probes);
        match answer {
            Ok(answer) if demand != Demand::NoPanic => ensure(answer == small.clean[i], || {
                difference(what(), &answer, &small.clean[i])
            })?,
            Ok(_) => {}
            Err(e) => {
                reported_as_damage(&e, &path).map_err(|p| p.within(what()))?;
                detected = true;
            }
        }
    }
    let check = reader.verify().context("verify")?;
    for damage in &check.damage {
        ensure(damage.file == path, || {
            Problem::mismatch(
                "the file verify names for damage",
                damage.file.display(),
                path.display(),
            )
        })?;
    }
    detected |= !check.is_intact();
    ensure(
        detected || demand != Demand::Detection,
        || "the damage went unnoticed: open, every read and verify succeeded",
    )
}

/// Every single bit of a small table of several blocks flipped in turn, then the table
/// cut short at every length: each is reported, as [`Error::Corruption`] naming the
/// table's file (or [`Error::UnsupportedVersion`]), by `open`, by a read or by
/// `verify` (which lists it rather than failing); no read gives an answer the intact
/// table does not; nothing panics.
///
/// [`Error::Corruption`]: ferris_core::Error::Corruption
/// [`Error::UnsupportedVersion`]: ferris_core::Error::UnsupportedVersion
///
/// # Errors
///
/// A [`Failure`] naming the byte and bit (or the length) and what came of it.
pub fn bit_flips(format: &dyn TableFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "bit_flips");
    let small = small_table(checking, format)?;
    let len = small.bytes.len();
    for pos in 0..len {
        for bit in 0..8 {
            let mut bytes = small.bytes.clone();
            bytes[pos] ^= 1 << bit;
            let case = format!("byte {pos} of {len}, bit {bit} flipped");
            checking.case(case, || judge(format, &bytes, &small, Demand::Detection))?;
        }
    }
    for cut in 0..len {
        let case = format!("cut to {cut} of {len} bytes");
        checking.case(case, || {
            judge(format, &small.bytes[..cut], &small, Demand::Detection)
        })?;
    }
    Ok(())
}

/// For every seed of [`HOSTILE_SEEDS`]: seeded random bytes under a table's name, some
/// ending (and some starting) as a real table does, so that they get past a magic number;
/// then a real table with a few random bytes overwritten. Nothing panics, every error is
/// damage naming the file, and the overwritten table gives no answer the intact one does
/// not.
///
/// # Errors
///
/// The first [`Failure`], naming the seed and what came of its bytes.
pub fn hostile_bytes(format: &dyn TableFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "hostile_bytes");
    let small = small_table(checking, format)?;
    HOSTILE_SEEDS
        .into_iter()
        .try_for_each(|seed| hostile_case(checking, format, &small, seed))
}

/// One seed of [`hostile_bytes`]: its random bytes, and its overwritten table.
///
/// # Errors
///
/// A [`Failure`] naming the seed and what came of its bytes.
pub fn hostile_bytes_seed(format: &dyn TableFormat, seed: u64) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "hostile_bytes");
    let small = small_table(checking, format)?;
    hostile_case(checking, format, &small, seed)
}

fn hostile_case(
    checking: Checking<'_>,
    format: &dyn TableFormat,
    small: &Small,
    seed: u64,
) -> Result<(), Failure> {
    checking.seed(seed, || {
        let real = &small.bytes;
        let mut rng = random::rng(seed);
        let len = rng.random_range(0..real.len() * 2);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let edge = rng.random_range(0..=len.min(real.len()).min(64));
        if rng.random_bool(0.5) {
            bytes[len - edge..].copy_from_slice(&real[real.len() - edge..]);
        }
        if rng.random_bool(0.5) {
            bytes[..edge].copy_from_slice(&real[..edge]);
        }
        judge(format, &bytes, small, Demand::NoPanic).map_err(|p| p.within("random bytes"))?;

        let mut rng = random::rng(seed);
        let mut bytes = real.clone();
        for _ in 0..rng.random_range(1..=8) {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random();
        }
        judge(format, &bytes, small, Demand::NoWrongAnswer)
            .map_err(|p| p.within("the table with random bytes overwritten"))
    })
}
