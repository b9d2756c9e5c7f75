//! The corruption sweep: flip bits across every kind of file a database is made of, and
//! check that the damage is always either harmless or caught, never turned into wrong data.
//!
//! A small database is built once (puts, deletes and batches, in the default keyspace and
//! a second one, `side`, some batches across both; flushed and compacted so each keyspace
//! has tables in two levels; more writes of both left unflushed in the WAL, where the
//! side keyspace's entries carry its id), and its files are
//! copied out of the simulated disk as an *image*: the state a power cut would leave while
//! it runs. Then, for each bit chosen, a fresh [`SimFs`] is loaded with the image with that
//! one bit flipped, the database is opened, and everything is read back: the list of
//! keyspaces, a point get of every key ever written in its keyspace, a full scan of each
//! keyspace forwards and one backwards, and [`Db::verify`].
//!
//! What each flip may do:
//!
//! - Open may fail, but only with a corruption error (or an unsupported-version error)
//!   that names the flipped file.
//! - Every read returns exactly the model's data, or fails with a corruption error naming
//!   the flipped file. A value the model does not have, a deleted key back from the dead,
//!   a key missing without an error: each is a failure.
//! - The one exception is the WAL's last record. Recovery (`RecoveryMode::TolerateTornTail`,
//!   the default) cannot tell a bit flipped in the last record of an unsealed segment from
//!   a record torn by a power cut: nothing intact follows either. So a flip there may drop
//!   that one record, whole: the writes of the last batch may be missing, nothing else may
//!   change, and verification must show the torn tail. A flip anywhere before it has
//!   intact records after it, and must be caught; in a sealed segment the seal follows
//!   every record, so only the seal itself can be cut off, losing nothing.
//! - The manifest shares the WAL's framing and its torn-tail rule, but its last edit in
//!   these images always took effect (a flush's, whose WAL segments were then deleted), so
//!   dropping it would lose the flush: the open must refuse instead (see the regression
//!   tests at the end).
//! - If the flipped file is still live after the open (a table, or the replayed WAL
//!   segment; open rewrites CURRENT and the manifest) and no read caught the damage,
//!   [`Db::verify`] must report a problem naming it, or, for a dropped last WAL record,
//!   the torn tail.
//! - Nothing panics, in the caller's thread or in the database's own threads.
//!
//! Small files are swept bit by bit; tables bit by bit in their meta blocks and footer (all
//! read when the table is opened) and at a stride in their data blocks.
//! `FERRIS_CORRUPTION_STRIDE=1` sweeps every bit of the tables too (slow), a larger value
//! fewer. Each test prints how many bits it flipped and what became of them.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Mutex, Once, OnceLock};
use std::time::Instant;

use ferris_engine::{Db, Error, Keyspace, WriteBatch};
use ferris_fs::{FileSystem, SimFs};
use ferris_wal::{RecoveryMode, SegmentReader};

use crate::{DIR, stable_options};

/// The default stride, in bits, between the bits flipped in a table's data blocks. Prime,
/// so the flips land on every bit position of a byte in turn.
const DEFAULT_TABLE_STRIDE: u64 = 13;

/// The stride between the bits flipped in a sealed WAL segment's zero padding.
const PADDING_STRIDE: u64 = 97;

/// The WAL's block size: a sealed segment's seal starts a block of its own.
const BLOCK_SIZE: u64 = 32 << 10;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The keyspace beside the default one: it has tables of its own, in two levels, and
/// entries in the WAL flagged with its id, some in batches with the default keyspace.
const SIDE: &str = "side";

/// Every keyspace's contents, by name.
type State = BTreeMap<String, Model>;

/// A database's files, frozen, and what reading them must give.
struct Image {
    /// The live files, by name: CURRENT, the manifest, the tables, the WAL segments.
    files: BTreeMap<String, Vec<u8>>,
    /// The data, as the model has it after every write.
    model: State,
    /// The data before the last WAL record, the one write a flip may make recovery drop.
    before_last: State,
    /// Every key ever written, deleted ones included, with its keyspace.
    keys: BTreeSet<(String, Vec<u8>)>,
    /// The newest WAL segment and the offset of its last record.
    last_wal_record: (String, u64),
    /// The manifest and the offset of its last record.
    last_manifest_record: (String, u64),
}

impl Image {
    fn names(&self, kind: Kind) -> Vec<String> {
        self.files
            .keys()
            .filter(|name| Kind::of(name) == kind)
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Current,
    Manifest,
    Table,
    Wal,
}

impl Kind {
    fn of(name: &str) -> Kind {
        if name == ferris_manifest::CURRENT {
            Kind::Current
        } else if name.starts_with("MANIFEST-") {
            Kind::Manifest
        } else if name.ends_with(".sst") {
            Kind::Table
        } else if name.ends_with(".wal") {
            Kind::Wal
        } else {
            panic!("an unexpected file in the image: {name}")
        }
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:04}").into_bytes()
}

fn value(i: usize, round: usize) -> Vec<u8> {
    // Some values are longer, so the tables have several data blocks.
    format!("v{round}-{i}-{}", "x".repeat(i % 5 * 20)).into_bytes()
}

/// One entry of a batch: its keyspace, its key, and its value or a delete.
type BatchEntry<'a> = (&'a str, Vec<u8>, Option<Vec<u8>>);

struct Writer<'a> {
    db: &'a Db,
    side: Keyspace,
    model: State,
    keys: BTreeSet<(String, Vec<u8>)>,
}

impl Writer<'_> {
    fn put(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.db.put(&k, &v).unwrap();
        self.record("default", k, Some(v));
    }

    fn delete(&mut self, k: Vec<u8>) {
        self.db.delete(&k).unwrap();
        self.record("default", k, None);
    }

    fn put_side(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.side.put(&k, &v).unwrap();
        self.record(SIDE, k, Some(v));
    }

    fn delete_side(&mut self, k: Vec<u8>) {
        self.side.delete(&k).unwrap();
        self.record(SIDE, k, None);
    }

    /// One batch of `(keyspace, key, value or delete)`, across keyspaces.
    fn batch(&mut self, ops: Vec<BatchEntry<'_>>) {
        let mut batch = WriteBatch::new();
        for (ks, k, v) in &ops {
            let id = self.db.keyspace(ks).unwrap().id();
            match v {
                Some(v) => batch.put_in(id, k, v),
                None => batch.delete_in(id, k),
            };
        }
        self.db.write(batch).unwrap();
        for (ks, k, v) in ops {
            self.record(ks, k, v);
        }
    }

    fn record(&mut self, ks: &str, k: Vec<u8>, v: Option<Vec<u8>>) {
        self.keys.insert((ks.to_string(), k.clone()));
        let model = self.model.entry(ks.to_string()).or_default();
        match v {
            Some(v) => model.insert(k, v),
            None => model.remove(&k),
        };
    }
}

/// Builds the database and copies its live files out. With `sealed`, the database is
/// closed first, so its WAL segment ends in a seal; otherwise the image is what a power
/// cut would leave while it runs (every write was synced).
fn build_image(sealed: bool) -> Image {
    let sim = SimFs::new(70);
    let mut options = stable_options(&sim);
    // One manifest for the whole history, so it holds several edits and its last one is
    // a flush's.
    options.max_manifest_size = 1 << 20;
    let db = Db::open(DIR, options).unwrap();
    let mut w = Writer {
        db: &db,
        side: db.keyspace(SIDE).unwrap(),
        model: State::from([
            ("default".to_string(), Model::new()),
            (SIDE.into(), Model::new()),
        ]),
        keys: BTreeSet::new(),
    };
    // Round 1: 300 keys, and 24 in the side keyspace, then compacted into the deepest
    // level.
    for i in 0..300 {
        w.put(key(i), value(i, 1));
    }
    for i in (0..300).step_by(10) {
        w.delete(key(i));
    }
    for i in 0..24 {
        w.put_side(key(i), value(i, 11));
    }
    db.compact().unwrap();
    // Round 2: overwrites and deletes, some of keys in the deepest level, flushed to
    // level 0.
    for i in (0..300).step_by(3) {
        w.put(key(i), value(i, 2));
    }
    for i in (1..300).step_by(7) {
        w.delete(key(i));
    }
    w.batch(
        (300..320)
            .map(|i| ("default", key(i), Some(value(i, 2))))
            .collect(),
    );
    for i in (0..24).step_by(4) {
        w.put_side(key(i), value(i, 12));
    }
    w.delete_side(key(1));
    db.flush().unwrap();
    // Round 3, left in the WAL: puts, deletes of keys in tables, and a batch last.
    let mut n_unflushed = 1;
    for i in (2..300).step_by(29) {
        w.put(key(i), value(i, 3));
        n_unflushed += 1;
    }
    for i in (5..300).step_by(37) {
        w.delete(key(i));
        n_unflushed += 1;
    }
    // The side keyspace's WAL entries carry its id: a put, a delete of a key in its
    // tables, and the last batch, across both keyspaces.
    w.put_side(key(7), value(7, 13));
    w.delete_side(key(8));
    n_unflushed += 2;
    let before_last = w.model.clone();
    w.batch(vec![
        ("default", key(3), Some(value(3, 4))),
        ("default", key(6), None),
        (SIDE, key(12), None),
        ("default", key(400), Some(value(400, 4))),
        (SIDE, key(400), Some(value(400, 14))),
    ]);
    let (model, keys) = (w.model, w.keys);

    for keyspace in ["default", SIDE] {
        let stats = db.keyspace(keyspace).unwrap().stats().unwrap();
        let levels: Vec<usize> = stats.levels.iter().map(|l| l.files).collect();
        assert!(
            levels[0] >= 1 && levels[1..].iter().any(|&n| n > 0),
            "{keyspace}: tables in level 0 and a deeper one: {levels:?}"
        );
    }
    if sealed {
        db.close().unwrap();
    }
    let image = copy_live_files(&sim);
    drop(db);
    let kinds: BTreeSet<_> = image.keys().map(|n| format!("{:?}", Kind::of(n))).collect();
    assert_eq!(kinds.len(), 4, "every kind of file: {kinds:?}");

    let dir = Path::new(DIR);
    let wal = image.keys().rfind(|n| Kind::of(n) == Kind::Wal);
    let wal = wal.expect("a WAL segment").clone();
    let id = ferris_wal::format::parse_segment_file_name(&wal).unwrap();
    let offsets = record_offsets(&sim, &dir.join(&wal), id);
    assert_eq!(
        offsets.len(),
        n_unflushed,
        "round 3's writes are in the newest segment"
    );
    let manifest = image.keys().find(|n| Kind::of(n) == Kind::Manifest);
    let manifest = manifest.unwrap().clone();
    let number = ferris_manifest::parse_manifest_file_name(&manifest).unwrap();
    let edits = record_offsets(&sim, &dir.join(&manifest), number);
    assert!(edits.len() > 2, "a snapshot and later edits: {edits:?}");
    Image {
        files: image,
        model,
        before_last,
        keys,
        last_wal_record: (wal, *offsets.last().unwrap()),
        last_manifest_record: (manifest, *edits.last().unwrap()),
    }
}

/// The offsets of the records of a log (a WAL segment or a manifest).
fn record_offsets(sim: &SimFs, path: &Path, id: u64) -> Vec<u64> {
    let mut reader = SegmentReader::open(sim, path, id, RecoveryMode::Strict).unwrap();
    let mut offsets = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        offsets.push(record.offset);
    }
    offsets
}

/// The files a reopen would use: CURRENT, the manifest it names, the tables that manifest
/// lists and the WAL segments it has not retired. Leftovers a reopen deletes unread (a WAL
/// segment a flush made redundant but whose removal is still under way, the table the
/// flush thread prepares ahead) are left out.
fn copy_live_files(sim: &SimFs) -> BTreeMap<String, Vec<u8>> {
    let dir = Path::new(DIR);
    let number = ferris_manifest::read_current(sim, dir).unwrap().unwrap();
    let state = ferris_manifest::replay(sim, dir, number).unwrap().state;
    let live: BTreeSet<u64> = state.live_files().collect();
    let mut files = BTreeMap::new();
    for name in sim.list(dir).unwrap() {
        let keep = match name.as_str() {
            "LOCK" => false,
            _ if name.ends_with(".sst.tmp") => false,
            _ if ferris_manifest::parse_manifest_file_name(&name).is_some() => {
                ferris_manifest::parse_manifest_file_name(&name) == Some(number)
            }
            _ if Kind::of(&name) == Kind::Table => {
                live.contains(&name[..name.len() - 4].parse::<u64>().unwrap())
            }
            _ if Kind::of(&name) == Kind::Wal => {
                ferris_wal::format::parse_segment_file_name(&name).unwrap() >= state.log_number()
            }
            _ => true,
        };
        if keep {
            let file = sim.open(&dir.join(&name)).unwrap();
            files.insert(name, file.read_vec(0, file.len()).unwrap());
        }
    }
    files
}

fn image(sealed: bool) -> &'static Image {
    static CRASHED: OnceLock<Image> = OnceLock::new();
    static SEALED: OnceLock<Image> = OnceLock::new();
    let cell = if sealed { &SEALED } else { &CRASHED };
    cell.get_or_init(|| build_image(sealed))
}

/// Panics in the database's own threads (flush, compaction) are only logged when `Db`
/// joins them; a panic hook records them so the sweep sees them.
static BACKGROUND_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn watch_background_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            if let Some(name) = thread.name().filter(|n| n.starts_with("ferris-")) {
                let mut panics = BACKGROUND_PANICS.lock().unwrap_or_else(|e| e.into_inner());
                panics.push(format!("thread {name}: {info}"));
            }
            previous(info);
        }));
    });
}

fn take_background_panics() -> Vec<String> {
    std::mem::take(&mut *BACKGROUND_PANICS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// What became of one flipped bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Open failed with a corruption error naming the file.
    OpenRefused,
    /// Open succeeded; a read failed with a corruption error naming the file.
    ReadCaught,
    /// Everything read back exactly; verification reported the damage.
    VerifyCaught,
    /// Recovery took the damaged last record of a log for a torn tail and dropped it; what
    /// was read is exactly the state before that record.
    DroppedLastRecord,
    /// The flip was in a log's last record and that record held no data (a WAL segment's
    /// seal): recovery cut it off as a torn tail, every read was exact, and verification
    /// shows the torn tail.
    EmptyTailDropped,
    /// Everything read back exactly, and no check found anything: the flipped bit was in
    /// a file open rewrote (CURRENT, the manifest) without needing the damaged part.
    Harmless,
}

#[derive(Debug, Default)]
struct Tally {
    flips: u64,
    outcomes: BTreeMap<String, u64>,
    failures: Vec<String>,
}

impl Tally {
    fn report(&self, what: &str, started: Instant) {
        eprintln!(
            "corruption sweep, {what}: {} bits flipped in {:.1?}: {:?}",
            self.flips,
            started.elapsed(),
            self.outcomes
        );
        let shown: Vec<_> = self.failures.iter().take(20).collect();
        assert!(
            self.failures.is_empty(),
            "{what}: {} of {} flips went wrong; the first ones:\n{}",
            self.failures.len(),
            self.flips,
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Flips every bit in `bits` of file `name`, one at a time, and checks each outcome.
fn sweep(
    image: &Image,
    name: &str,
    bits: impl IntoIterator<Item = u64>,
    tally: &mut Tally,
    seed: u64,
) {
    watch_background_panics();
    for bit in bits {
        tally.flips += 1;
        let result = catch_unwind(AssertUnwindSafe(|| check_flip(image, name, bit, seed)));
        let background = take_background_panics();
        match result {
            Ok(Ok(outcome)) if background.is_empty() => {
                *tally.outcomes.entry(format!("{outcome:?}")).or_default() += 1;
            }
            Ok(Ok(_)) => tally.failures.push(format!(
                "{name} bit {bit} (byte {}): a background thread panicked: {background:?}",
                bit / 8
            )),
            Ok(Err(failure)) => tally
                .failures
                .push(format!("{name} bit {bit} (byte {}): {failure}", bit / 8)),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                tally.failures.push(format!(
                    "{name} bit {bit} (byte {}): panicked: {message}",
                    bit / 8
                ));
            }
        }
    }
}

/// Loads `image` into a fresh simulated disk with `bit` of file `name` flipped.
fn load(image: &Image, name: &str, bit: u64, seed: u64) -> SimFs {
    let sim = SimFs::new(seed);
    let dir = Path::new(DIR);
    sim.create_dir_all(dir).unwrap();
    for (file_name, bytes) in &image.files {
        let mut file = sim.create(&dir.join(file_name)).unwrap();
        if file_name == name {
            let mut bytes = bytes.clone();
            bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
            file.append(&bytes).unwrap();
        } else {
            file.append(bytes).unwrap();
        }
        file.sync().unwrap();
    }
    sim.sync_dir(dir).unwrap();
    sim
}

/// Whether `error` is damage (or a version this build does not know, which is what a flip
/// in a version field looks like) in the file at `path`.
fn names_file(error: &Error, path: &Path) -> Result<(), String> {
    let named = match error.corruption() {
        Some(problem) => problem.file.clone(),
        None => match error {
            Error::UnsupportedVersion(v) => v.file.clone(),
            _ => return Err(format!("not a corruption error: {error} ({error:?})")),
        },
    };
    if named != path {
        return Err(format!(
            "the error names {} instead: {error}",
            named.display()
        ));
    }
    Ok(())
}

/// The states reads may show after a flip at `bit` of `name`: the model, and also the
/// state before the WAL's last record when the flip is inside that record.
fn allowed_states<'a>(image: &'a Image, name: &str, bit: u64) -> Vec<(&'a State, bool)> {
    let mut states = vec![(&image.model, false)];
    let (wal, offset) = &image.last_wal_record;
    if name == wal && bit / 8 >= *offset {
        states.push((&image.before_last, true));
    }
    states
}

fn check_flip(image: &Image, name: &str, bit: u64, seed: u64) -> Result<Outcome, String> {
    let sim = load(image, name, bit, seed);
    let path = Path::new(DIR).join(name);
    let db = match Db::open(DIR, stable_options(&sim)) {
        Ok(db) => db,
        Err(e) => {
            names_file(&e, &path).map_err(|why| format!("open failed: {why}"))?;
            return Ok(Outcome::OpenRefused);
        }
    };
    // Each candidate state survives while every read agrees with it.
    let mut candidates = allowed_states(image, name, bit);
    let mut caught = false;
    let mut check = |what: &str, agrees: &dyn Fn(&State) -> bool| -> Result<(), String> {
        candidates.retain(|(state, _)| agrees(state));
        if candidates.is_empty() {
            return Err(format!("wrong data: {what}"));
        }
        Ok(())
    };
    // `Db::keyspace` creates a keyspace it does not find, so the list comes first: a
    // keyspace a flip made disappear is wrong data, not an empty keyspace.
    let listed = db
        .list_keyspaces()
        .map_err(|e| format!("list_keyspaces: {e}"))?;
    let listed: BTreeSet<String> = listed.into_iter().collect();
    let what = format!("the database lists keyspaces {listed:?}");
    check(&what, &|state| state.keys().eq(listed.iter()))?;
    let keyspaces = (listed.iter())
        .map(|name| Ok((name.clone(), db.keyspace(name)?)))
        .collect::<Result<BTreeMap<String, Keyspace>, Error>>()
        .map_err(|e| format!("keyspace: {e}"))?;
    for (ks, k) in &image.keys {
        match keyspaces[ks].get(k) {
            Ok(got) => {
                let got = got.map(|v| v.to_vec());
                let what = format!(
                    "get({}) in {ks} = {:?}, the model has {:?}",
                    String::from_utf8_lossy(k),
                    got.as_deref().map(String::from_utf8_lossy),
                    image.model[ks].get(k).map(|v| String::from_utf8_lossy(v)),
                );
                check(&what, &|state| state[ks].get(k) == got.as_ref())?;
            }
            Err(e) => {
                names_file(&e, &path).map_err(|why| format!("get failed: {why}"))?;
                caught = true;
            }
        }
    }
    for ((ks, keyspace), reverse) in keyspaces.iter().flat_map(|k| [(k, false), (k, true)]) {
        let iter = keyspace.iter().map_err(|e| format!("iter: {e}"))?;
        let iter: Box<dyn Iterator<Item = _>> = if reverse {
            Box::new(iter.rev())
        } else {
            Box::new(iter)
        };
        let mut seen = Vec::new();
        let mut complete = true;
        for item in iter {
            match item {
                Ok((k, v)) => seen.push((k.to_vec(), v.to_vec())),
                Err(e) => {
                    names_file(&e, &path).map_err(|why| format!("scan failed: {why}"))?;
                    caught = true;
                    complete = false;
                    break;
                }
            }
        }
        // What a scan yielded before an error must be the start of the full scan.
        let agrees = |state: &State| {
            let state = &state[ks];
            let expected: Vec<(Vec<u8>, Vec<u8>)> = if reverse {
                state
                    .iter()
                    .rev()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            } else {
                state.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            };
            if complete {
                seen == expected
            } else {
                expected.starts_with(&seen)
            }
        };
        let what = format!(
            "a {} scan of {ks} yielded {} entries (complete: {complete}), the model has {}",
            if reverse { "reverse" } else { "forward" },
            seen.len(),
            image.model[ks].len()
        );
        check(&what, &agrees)?;
    }
    drop(keyspaces);
    let report = db.verify().map_err(|e| format!("verify failed: {e}"))?;
    let live = report.files.iter().any(|f| f.path == path);
    let reported = report.problems.iter().any(|p| p.file == path);
    if let Some(stray) = report.problems.iter().find(|p| p.file != path) {
        return Err(format!("verify blames another file: {stray}"));
    }
    let dropped = candidates.iter().all(|(_, dropped)| *dropped);
    if caught {
        return Ok(Outcome::ReadCaught);
    }
    if dropped {
        let torn = report
            .files
            .iter()
            .any(|f| f.path == path && f.torn_tail.is_some());
        if !torn {
            return Err("the last WAL record is missing, and verify shows no torn tail".into());
        }
        return Ok(Outcome::DroppedLastRecord);
    }
    if reported {
        return Ok(Outcome::VerifyCaught);
    }
    let torn_before_flip = report
        .files
        .iter()
        .any(|f| f.path == path && f.torn_tail.is_some_and(|at| at <= bit / 8));
    if torn_before_flip {
        return Ok(Outcome::EmptyTailDropped);
    }
    if live && matches!(Kind::of(name), Kind::Table | Kind::Wal) {
        return Err(format!(
            "undetected: every read was right and verify found nothing in a live file: {:?}",
            report.files.iter().find(|f| f.path == path)
        ));
    }
    Ok(Outcome::Harmless)
}

/// Every bit of every file of `kind` in the image.
fn sweep_every_bit(kind: Kind, sealed: bool, what: &str) {
    let started = Instant::now();
    let image = image(sealed);
    let mut tally = Tally::default();
    for name in image.names(kind) {
        let n_bits = image.files[&name].len() as u64 * 8;
        sweep(image, &name, 0..n_bits, &mut tally, 71);
    }
    tally.report(what, started);
}

fn table_stride() -> u64 {
    std::env::var("FERRIS_CORRUPTION_STRIDE")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(DEFAULT_TABLE_STRIDE)
}

/// The byte offset where a table's meta blocks begin: its filter block, the first block
/// after the data blocks (the footer's filter handle, bytes 16..24 of the footer).
fn meta_start(table: &[u8]) -> u64 {
    let footer = &table[table.len() - 64..];
    u64::from_le_bytes(footer[16..24].try_into().unwrap())
}

#[test]
fn every_bit_of_current() {
    sweep_every_bit(Kind::Current, false, "CURRENT, every bit");
}

#[test]
fn every_bit_of_the_manifest() {
    sweep_every_bit(Kind::Manifest, false, "the manifest, every bit");
}

/// The live segment a power cut left: every bit of what was written to it, and about 500
/// bits spread over the zeros of its reserved length that follow (up to a mebibyte of
/// them, all alike).
#[test]
fn every_bit_of_a_wal_segment_left_by_a_power_cut() {
    let started = Instant::now();
    let image = image(false);
    let mut tally = Tally::default();
    for name in image.names(Kind::Wal) {
        let bytes = &image.files[&name];
        let written = bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |p| p as u64 + 1);
        let n_bits = bytes.len() as u64 * 8;
        // Odd, so the flips land on every bit position of a byte in turn.
        let stride = ((n_bits - written * 8) / 500).max(PADDING_STRIDE) | 1;
        let zeros = (written * 8..n_bits).step_by(stride as usize);
        sweep(image, &name, (0..written * 8).chain(zeros), &mut tally, 71);
    }
    tally.report(
        "WAL segment (unsealed), every bit written, ~500 of its reserved zeros",
        started,
    );
}

/// A sealed segment: every bit of its records and of its seal, and a stride of the zero
/// padding between them (the seal starts a block of its own).
#[test]
fn every_bit_of_a_sealed_wal_segments_records_and_seal() {
    let started = Instant::now();
    let image = image(true);
    let mut tally = Tally::default();
    for name in image.names(Kind::Wal) {
        let bytes = &image.files[&name];
        let n_bits = bytes.len() as u64 * 8;
        // The padding is the run of zeros before the seal's block.
        let seal_block = (bytes.len() as u64 - 1) / BLOCK_SIZE * BLOCK_SIZE;
        let records_end = bytes[..seal_block as usize]
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |p| p as u64 + 1);
        assert!(records_end < seal_block, "{name} is sealed");
        let padding = (records_end * 8..seal_block * 8).step_by(PADDING_STRIDE as usize);
        let bits = (0..records_end * 8)
            .chain(padding)
            .chain(seal_block * 8..n_bits);
        sweep(image, &name, bits, &mut tally, 73);
    }
    tally.report(
        "WAL segment (sealed), every bit of records and seal, padding every 97th",
        started,
    );
}

/// Every bit of the meta blocks and footer of every table, and a stride of the data
/// blocks.
#[test]
fn tables_meta_blocks_every_bit_and_data_blocks_at_a_stride() {
    let started = Instant::now();
    let image = image(false);
    let stride = table_stride();
    let mut tally = Tally::default();
    for name in image.names(Kind::Table) {
        let bytes = &image.files[&name];
        let meta = meta_start(bytes) * 8;
        let n_bits = bytes.len() as u64 * 8;
        let data = (0..meta).step_by(stride as usize);
        sweep(image, &name, data.chain(meta..n_bits), &mut tally, 72);
    }
    tally.report(
        &format!("tables, meta blocks every bit, data blocks every {stride}th bit"),
        started,
    );
}

/// Regression: a bit flipped in the manifest's last edit, when that edit was a flush's,
/// resurrected deleted keys and brought back overwritten values, silently.
///
/// The manifest is read with the WAL's torn-tail rule: a damaged last record is taken for
/// one torn by a crash during its append, and dropped, as an edit that never took effect.
/// But this edit had taken effect: it was synced, and the flush then deleted the WAL
/// segments its table replaced. Dropping it sent the replay to a log number whose
/// segments were gone, so the flushed writes vanished without an error, and the open
/// deleted the flushed table as a leftover, destroying the only copy. Found by the sweep
/// above (`every_bit_of_the_manifest`). Recovery now checks, before deleting anything,
/// that the files the replayed state needs are there, and reports the damaged manifest.
#[test]
fn a_flipped_bit_in_the_last_edit_of_the_manifest_does_not_lose_a_flush() {
    let image = image(false);
    let (manifest, offset) = &image.last_manifest_record;
    // Inside the record's payload, past its 7-byte fragment header.
    let bit = (offset + 7 + 4) * 8 + 3;
    let sim = load(image, manifest, bit, 74);
    let err = Db::open(DIR, stable_options(&sim)).unwrap_err();
    let path = Path::new(DIR).join(manifest);
    names_file(&err, &path).unwrap();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains("took effect"), "{err}");
    // The failed open deleted nothing: repairing the bit gives the database back whole.
    for name in image.names(Kind::Table) {
        assert!(sim.exists(&Path::new(DIR).join(&name)).unwrap(), "{name}");
    }
}

/// Regression, the same bug through a compaction: a bit flipped in the manifest's last
/// edit, a compaction's, dropped the edit; the open then deleted the compaction's output
/// tables as leftovers and failed on its input tables, deleted long before, with an I/O
/// error ("not found") that named a table instead of the damaged manifest.
#[test]
fn a_flipped_bit_in_the_last_edit_of_the_manifest_does_not_lose_a_compaction() {
    let sim = SimFs::new(75);
    let mut options = stable_options(&sim);
    options.max_manifest_size = 1 << 20;
    let db = Db::open(DIR, options).unwrap();
    let dir = Path::new(DIR);
    let tables = |sim: &SimFs| -> BTreeSet<String> {
        let names = sim.list(dir).unwrap().into_iter();
        names.filter(|n| n.ends_with(".sst")).collect()
    };
    for round in 0..2 {
        for i in 0..50 {
            db.put(key(i), value(i, round)).unwrap();
        }
        db.flush().unwrap();
    }
    let inputs = tables(&sim);
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    db.compact().unwrap();
    crate::wait_for("the compaction's inputs to be deleted", || {
        tables(&sim).is_disjoint(&inputs)
    });
    let outputs = tables(&sim);
    assert!(!outputs.is_empty());
    let files = copy_live_files(&sim);
    drop(db);
    let manifest = files
        .keys()
        .find(|n| Kind::of(n) == Kind::Manifest)
        .unwrap()
        .clone();
    let number = ferris_manifest::parse_manifest_file_name(&manifest).unwrap();
    let mut edits = record_offsets(&sim, &dir.join(&manifest), number);
    let last = edits.pop().unwrap();
    let image = Image {
        files,
        model: State::new(),
        before_last: State::new(),
        keys: BTreeSet::new(),
        last_wal_record: (String::new(), 0),
        last_manifest_record: (manifest.clone(), last),
    };
    let sim = load(&image, &manifest, (last + 7 + 4) * 8, 76);
    let err = Db::open(DIR, stable_options(&sim)).unwrap_err();
    names_file(&err, &dir.join(&manifest)).unwrap();
    assert!(err.is_corruption(), "{err}");
    assert_eq!(
        tables(&sim),
        outputs,
        "the compaction's outputs are all still there"
    );
}
