//! Table formats broken on purpose: each wraps the minitable and breaks one promise.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_conformance::Failure;
use ferris_conformance::table;
use ferris_core::iter::InternalIterator;
use ferris_core::range_del::Tombstones;
use ferris_core::{DEFAULT_KEYSPACE, Error, InternalKeyRef, Lookup, MAX_SEQNO, Result, SeqNo};
use ferris_fs::FileSystem;
use ferris_minitable::MinitableFormat;
use ferris_table::{
    ReadOptions, TableBuilder, TableCheck, TableFormat, TableName, TableOptions, TableProperties,
    TableReader,
};

use crate::{assert_replays, caught, is_wrong_answer};

/// The one promise a mutant breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    /// Lookups answer with the newest version, whatever the snapshot.
    IgnoresSnapshot,
    /// Temporary files are not recognised, so recovery would never remove them.
    ForgetsTemporaries,
    /// The table is written under another number and renamed into place at the end,
    /// without a directory sync: a finished table can vanish in a power cut.
    RenamesWithoutDirSync,
    /// Damage found by a lookup panics instead of being returned.
    PanicsOnDamage,
    /// A failed read is reported as damage.
    IoAsCorruption,
    /// `get_many` looks up every key, overwriting the answers a newer table gave.
    GetManyOverwrites,
    /// Every table is written as one of the default keyspace, whatever it was created
    /// for: the engine could no longer tell a table listed under the wrong keyspace.
    ForgetsKeyspace,
    /// The builder accepts range tombstones and drops them: keys they delete come back.
    DropsRangeTombstones,
}

#[derive(Debug)]
struct Mutant(Mutation);

/// Where the renaming mutant writes before its rename.
const DETOUR: u64 = 1000;

impl TableFormat for Mutant {
    fn name(&self) -> &'static str {
        "mutant"
    }

    fn file_name(&self, number: u64) -> String {
        MinitableFormat.file_name(number)
    }

    fn parse_file_name(&self, name: &str) -> Option<TableName> {
        let parsed = MinitableFormat.parse_file_name(name)?;
        match self.0 {
            Mutation::ForgetsTemporaries if parsed.temporary => None,
            // Its detour is its temporary file.
            Mutation::RenamesWithoutDirSync if parsed.number >= DETOUR => Some(TableName {
                number: parsed.number - DETOUR,
                temporary: true,
            }),
            _ => Some(parsed),
        }
    }

    fn create(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &TableOptions,
    ) -> Result<Box<dyn TableBuilder>> {
        let mut options = *options;
        if self.0 == Mutation::ForgetsKeyspace {
            options.keyspace = DEFAULT_KEYSPACE;
        }
        let options = &options;
        if self.0 == Mutation::DropsRangeTombstones {
            let inner = MinitableFormat.create(fs, dir, number, options)?;
            return Ok(Box::new(Forgetful(inner)));
        }
        if self.0 != Mutation::RenamesWithoutDirSync {
            return MinitableFormat.create(fs, dir, number, options);
        }
        Ok(Box::new(Detour {
            inner: MinitableFormat.create(fs, dir, number + DETOUR, options)?,
            fs: Arc::clone(fs),
            from: MinitableFormat.path(dir, number + DETOUR),
            to: MinitableFormat.path(dir, number),
        }))
    }

    fn open(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &ReadOptions,
    ) -> Result<Arc<dyn TableReader>> {
        let inner = MinitableFormat.open(fs, dir, number, options)?;
        Ok(Arc::new(MutantReader {
            inner,
            mutation: self.0,
        }))
    }
}

#[derive(Debug)]
struct Detour {
    inner: Box<dyn TableBuilder>,
    fs: Arc<dyn FileSystem>,
    from: PathBuf,
    to: PathBuf,
}

impl TableBuilder for Detour {
    fn add(&mut self, key: InternalKeyRef<'_>, value: &[u8]) -> Result<()> {
        self.inner.add(key, value)
    }

    fn add_range_tombstones(&mut self, tombstones: &Tombstones) -> Result<()> {
        self.inner.add_range_tombstones(tombstones)
    }

    fn estimated_size(&self) -> u64 {
        self.inner.estimated_size()
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn finish(self: Box<Self>) -> Result<TableProperties> {
        let properties = self.inner.finish()?;
        self.fs
            .rename(&self.from, &self.to)
            .map_err(|e| Error::io(&self.from, e))?;
        Ok(properties)
    }
}

/// A builder that takes range tombstones and forgets them.
#[derive(Debug)]
struct Forgetful(Box<dyn TableBuilder>);

impl TableBuilder for Forgetful {
    fn add(&mut self, key: InternalKeyRef<'_>, value: &[u8]) -> Result<()> {
        self.0.add(key, value)
    }

    fn add_range_tombstones(&mut self, _: &Tombstones) -> Result<()> {
        Ok(())
    }

    fn estimated_size(&self) -> u64 {
        self.0.estimated_size()
    }

    fn len(&self) -> u64 {
        self.0.len()
    }

    fn finish(self: Box<Self>) -> Result<TableProperties> {
        self.0.finish()
    }
}

#[derive(Debug)]
struct MutantReader {
    inner: Arc<dyn TableReader>,
    mutation: Mutation,
}

impl TableReader for MutantReader {
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Option<Lookup>> {
        match self.mutation {
            Mutation::IgnoresSnapshot => self.inner.get(user_key, MAX_SEQNO),
            Mutation::PanicsOnDamage => match self.inner.get(user_key, snapshot) {
                Err(e) if e.is_corruption() => panic!("not expecting damage: {e}"),
                other => other,
            },
            Mutation::IoAsCorruption => self.inner.get(user_key, snapshot).map_err(|e| match e {
                Error::Io(io) => Error::corruption(io.path, 0, "a read failed"),
                other => other,
            }),
            _ => self.inner.get(user_key, snapshot),
        }
    }

    fn get_many(
        &self,
        keys: &[&[u8]],
        snapshot: SeqNo,
        found: &mut [Option<Lookup>],
    ) -> Result<()> {
        if self.mutation == Mutation::GetManyOverwrites {
            // Forgets the answers given, so every key is looked up again.
            found.fill(None);
        }
        self.inner.get_many(keys, snapshot, found)
    }

    fn range_tombstones(&self) -> Arc<Tombstones> {
        self.inner.range_tombstones()
    }

    fn iter(self: Arc<Self>, fill_cache: bool) -> Box<dyn InternalIterator> {
        Arc::clone(&self.inner).iter(fill_cache)
    }

    fn properties(&self) -> &TableProperties {
        self.inner.properties()
    }

    fn path(&self) -> &Path {
        self.inner.path()
    }

    fn verify(&self) -> Result<TableCheck> {
        self.inner.verify()
    }
}

/// The failure the check named `check` (as [`table::CHECKS`] names it) gives for
/// `mutation`; it must name that check.
fn failure(check: &str, mutation: Mutation) -> Failure {
    let (_, run) = table::CHECKS
        .iter()
        .find(|(name, _)| *name == check)
        .expect("a check of the table suite");
    caught(run(&Mutant(mutation)), check)
}

#[test]
fn lookups_that_ignore_the_snapshot_fail_the_round_trips_naming_the_seed() {
    let f = failure("round_trips", Mutation::IgnoresSnapshot);
    assert_eq!(f.implementation(), "mutant");
    assert_eq!(
        Some(f.case()),
        f.seed().map(|seed| format!("seed {seed}")).as_deref()
    );
    assert!(f.detail().starts_with("get("), "{f}");
    // An older version, or none, was expected; the mutant gave the newest.
    assert!(is_wrong_answer(&f), "{f}");
    // The failing seed replays alone.
    assert_replays(f, |seed| {
        table::round_trips_seed(&Mutant(Mutation::IgnoresSnapshot), seed)
    });
}

#[test]
fn unrecognised_temporaries_fail_the_names() {
    let f = failure("names", Mutation::ForgetsTemporaries);
    assert_eq!(f.case(), "a table being written", "{f}");
    assert_eq!(
        f.expected(),
        Some("Some(TableName { number: 12, temporary: true })")
    );
}

#[test]
fn a_rename_without_a_directory_sync_fails_the_power_cuts() {
    let f = failure("power_cuts", Mutation::RenamesWithoutDirSync);
    assert!(f.case().contains("power cut after"), "{f}");
    assert_eq!(f.seed(), None, "a power cut is a case, not a seed");
    assert_eq!(
        f.detail(),
        "finish returned Ok, but after the power cut there is no table"
    );
    assert_eq!(
        f.to_string(),
        format!("mutant failed power_cuts, {}: {}", f.case(), f.detail())
    );
}

#[test]
fn a_panic_on_damage_fails_the_bit_flips_as_a_failure_not_a_panic() {
    let f = failure("bit_flips", Mutation::PanicsOnDamage);
    assert!(f.case().contains("flipped"), "{f}");
    assert!(
        f.detail().starts_with("panicked: not expecting damage"),
        "{f}"
    );
}

#[test]
fn a_panic_on_damage_fails_the_hostile_bytes_and_its_seed_replays() {
    let f = failure("hostile_bytes", Mutation::PanicsOnDamage);
    assert!(f.detail().contains("panicked: not expecting damage"), "{f}");
    assert_replays(f, |seed| {
        table::hostile_bytes_seed(&Mutant(Mutation::PanicsOnDamage), seed)
    });
}

#[test]
fn a_failed_read_reported_as_damage_fails_the_io_faults() {
    let f = failure("io_faults", Mutation::IoAsCorruption);
    assert!(f.case().starts_with("read number"), "{f}");
    assert!(f.detail().ends_with("where only a read failed"), "{f}");
    assert_eq!(f.expected(), Some("an Io error"), "{f}");
    assert!(
        f.got().is_some_and(|got| got.starts_with("Corruption")),
        "{f}"
    );
}

#[test]
fn a_get_many_that_overwrites_given_answers_fails_the_round_trips() {
    let f = failure("round_trips", Mutation::GetManyOverwrites);
    assert!(f.detail().starts_with("get_many("), "{f}");
    assert!(f.detail().contains("answered beforehand"), "{f}");
    assert!(is_wrong_answer(&f), "{f}");
    assert_replays(f, |seed| {
        table::round_trips_seed(&Mutant(Mutation::GetManyOverwrites), seed)
    });
}

#[test]
fn a_format_that_forgets_the_keyspace_fails_the_round_trips_at_seed_0() {
    let f = failure("round_trips", Mutation::ForgetsKeyspace);
    assert_eq!(f.seed(), Some(0), "{f}");
    assert_eq!(f.detail(), "the properties' keyspace", "{f}");
    assert_eq!((f.got(), f.expected()), (Some("0"), Some("7")), "{f}");
}

#[test]
fn a_builder_that_drops_range_tombstones_fails_the_range_tombstones_check() {
    let f = failure("range_tombstones", Mutation::DropsRangeTombstones);
    assert_eq!(f.case(), "a fixed table", "{f}");
    assert_eq!(f.detail(), "range_tombstones()", "{f}");
    assert_eq!(f.got(), Some("[]"), "{f}");
}
