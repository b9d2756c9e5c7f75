//! Opening a database: lock, CURRENT, manifest, tables, WAL replay, cleanup.
//!
//! # Read-only open
//!
//! [`Db::open_read_only`](crate::Db::open_read_only) reads the same way and writes
//! nothing: no lock, no cleanup, no new manifest or WAL segment, no flush. It keeps the
//! replayed manifest as a read-only [`Manifest`] and the replayed WAL in memtables, and has
//! no WAL of its own (`Writes::wal` is `None`), which is what refuses every write.
//!
//! Without the lock, a writer may be at work beside it, and between its reads of CURRENT,
//! the manifest, the WAL segments and the tables the writer may append edits, switch
//! manifests, and delete the WAL segments a flush retired and the tables a compaction
//! replaced. What keeps the reader from serving a state that mixes two moments:
//!
//! - Every name is used once (file numbers and segment ids only grow), and a file's bytes
//!   only ever grow at its end, so a file read is either the one the manifest meant or
//!   missing; never another one under the same name.
//! - A writer deletes a file only after the manifest change that let it go (an edit
//!   appended and synced, or CURRENT switched). So a file the replayed state needs and the
//!   reader cannot find means the manifest moved meanwhile: the attempt failed, and it
//!   starts over ([`ferris_manifest::read_consistent`] compares the manifest's position
//!   before and after). Each check that finds such a file missing fails the attempt: the
//!   manifest CURRENT names, a live table, and the WAL segment at the log number (the
//!   first segment replayed must be that one; a later first one means the writer retired
//!   it after a flush this state does not include, and replaying from there would lose
//!   that flush's writes).
//! - A torn tail (a record cut short with nothing intact after it) in the manifest or in
//!   the newest WAL segment is a write in progress, read as the end, as recovery after a
//!   crash reads it; every record is whole and checksummed, so a batch is seen whole or
//!   not at all. A torn record in an older segment is what a crash left before the
//!   writer's own open, which replayed it the same way: a live writer seals a segment
//!   before it starts the next, and never rewrites one. A record caught half-copied with
//!   a finished one after it (a reader's pages copied at different moments) looks like
//!   damage; the next attempt sees it whole, so damage only counts when two attempts in a
//!   row meet it the same way over a manifest that stood still.
//! - Once open, the tables stay open (and on Unix a deleted file stays readable through
//!   its handle), so the reader keeps serving the state of its open while the writer
//!   retires files.
//!
//! After [`READ_ONLY_ATTEMPTS`] attempts that each met a change, the open fails with
//! [`Error::ConcurrentChange`]; damage and I/O failures are reported as themselves.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferris_core::expiry::Ttl;
use ferris_core::{DEFAULT_KEYSPACE, KeyspaceId, Memtable};
use ferris_fs::FileSystem;
use ferris_manifest::{
    CURRENT, CURRENT_TMP, LevelState, Manifest, Raced, manifest_file_name,
    parse_manifest_file_name, read_consistent, read_current, replay,
};
use ferris_table::{BlockCache, ReadOptions, TableFormat};
use ferris_wal::format::{parse_segment_file_name, segment_path};
use ferris_wal::{
    RecoveryEvent, RecoveryOptions, RecoveryReport, Route, Wal, WalOptions, WalRecovery,
};

use crate::db::Shared;
use crate::error::{Error, Result};
use crate::options::{KeyspaceOptions, Options};
use crate::versions::{Env, KeyspaceCore, VersionSet, open_tables};
use crate::work::Work;
use crate::write::Writes;

/// The lock file's name.
pub(crate) const LOCK: &str = "LOCK";

/// Open flushes what it replayed once this many WAL segments needed replay.
const MAX_REPLAYED_SEGMENTS: usize = 4;

/// How many times a read-only open reads the database before it gives up on a writer
/// that changes it under every attempt.
const READ_ONLY_ATTEMPTS: usize = 8;

/// Opens the database in `dir`: for writing, or (`writable` false) for reading only,
/// writing nothing (see the module docs).
pub(crate) fn open(dir: &Path, options: Options, writable: bool) -> Result<Shared> {
    let fs = Arc::clone(&options.file_system);
    let exists = fs.exists(dir).map_err(|e| Error::io(dir, e))?;
    if !exists {
        if !options.create_if_missing || !writable {
            return Err(Error::NotADatabase {
                path: dir.to_path_buf(),
                reason: match writable {
                    true => "the directory does not exist (and create_if_missing is off)",
                    false => "the directory does not exist",
                }
                .into(),
            });
        }
        fs.create_dir_all(dir)
            .map_err(|e| Error::io_on_open(dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
    }
    // RocksDB's rule: without create_if_missing, a directory without CURRENT is no
    // database (an empty one, or an interrupted checkpoint), checked before the lock file
    // is written into it.
    let current = dir.join(CURRENT);
    if !options.create_if_missing && !fs.exists(&current).map_err(|e| Error::io(&current, e))? {
        // Name a stranger file if there is one: the more useful answer.
        check_empty(&*fs, &*options.table_format, dir)?;
        return Err(Error::NotADatabase {
            path: dir.to_path_buf(),
            reason: "it has no CURRENT file (and create_if_missing is off)".into(),
        });
    }
    let lock_path = dir.join(LOCK);
    let lock = writable.then(|| fs.lock(&lock_path)).transpose();
    let lock = lock.map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => Error::Locked {
            path: lock_path.clone(),
        },
        _ => Error::io_on_open(&lock_path, e),
    })?;
    let env = Env {
        read: ReadOptions::with_cache(Arc::new(BlockCache::new(options.block_cache_size))),
        fs,
        dir: dir.to_path_buf(),
        options,
    };
    let loaded = match writable {
        true => load(&env, true)?,
        false => load_consistent(&env)?,
    };
    let Loaded {
        state,
        current,
        keyspaces,
        report,
        damaged,
    } = loaded;
    let last_seq = state.last_sequence;
    let (manifest, wal) = match (writable, current) {
        (false, Some(number)) => (Manifest::read_only(&env.fs, dir, number, state), None),
        (false, None) => {
            return Err(Error::NotADatabase {
                path: dir.to_path_buf(),
                reason: "it has no CURRENT file (a database opened read-only is never created)"
                    .into(),
            });
        }
        // Every open for writing starts a fresh manifest holding one snapshot, then
        // switches CURRENT, and starts a new WAL segment.
        (true, _) => {
            if current.is_none() {
                tracing::info!(dir = %dir.display(), "creating a new database");
            }
            let max = env.options.max_manifest_size;
            let manifest = Manifest::create(&env.fs, dir, state, max)?;
            if let Some(old) = current {
                let path = env.path(manifest_file_name(old));
                env.fs.remove(&path).map_err(|e| Error::io(&path, e))?;
                env.fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
            }
            let mut wal_options = WalOptions::default();
            wal_options.segment_size = env.options.wal_segment_size;
            let fs = Arc::clone(&env.fs);
            let wal = Wal::create(fs, dir, report.next_segment_id, wal_options)?;
            (manifest, Some(wal))
        }
    };
    let (priority, threads) = (env.options.flush_priority, env.options.compaction_threads);
    let limits = env.options.transaction_limits;
    let shared = Shared {
        env,
        versions: VersionSet::new(manifest, keyspaces),
        writes: Writes::new(wal, last_seq, limits),
        work: Work::new(priority.resolve(threads)),
        snapshots: Default::default(),
        stats: Default::default(),
        closed: AtomicBool::new(false),
        lock: std::sync::Mutex::new(lock),
    };

    // The recovered memtable is written to a table at once, and every replayed segment
    // retired, when:
    // - damage was skipped (only in the lenient recovery modes): replaying those segments
    //   again later, past the damage, could resurrect writes from after a hole;
    // - there was nothing to replay: the segments are empty and can simply go;
    // - many segments have piled up, as they do when a database is opened for a few writes
    //   at a time (each open starts a new segment): without this they would grow without
    //   bound until the memtable filled.
    // It is the flush thread's own flush, run before the thread starts. A database opened
    // read-only keeps what it replayed in memory.
    let keyspaces = shared.versions.keyspaces();
    let nothing = keyspaces.iter().all(|k| k.current().mem.is_empty());
    if writable && (damaged || nothing || report.segment_ids.len() >= MAX_REPLAYED_SEGMENTS) {
        for keyspace in &keyspaces {
            shared
                .versions
                .freeze(&shared.env, keyspace, report.next_segment_id);
            let frozen = Arc::clone(&keyspace.current().frozen[0]);
            shared.flush(keyspace, &frozen, &mut None)?;
        }
    }
    Ok(shared)
}

/// What [`load`] read: the state the manifest describes, with the keyspaces built on it
/// (tables open, the WAL replayed into their memtables).
struct Loaded {
    state: LevelState,
    /// The manifest CURRENT named; `None` for a new database.
    current: Option<u64>,
    keyspaces: BTreeMap<KeyspaceId, Arc<KeyspaceCore>>,
    report: RecoveryReport,
    /// WAL recovery skipped damage (only in the lenient modes).
    damaged: bool,
}

/// Reads the database (`load`) for a read-only open, starting over while a writer
/// changes it under the reads; see the module docs.
fn load_consistent(env: &Env) -> Result<Loaded> {
    let (fs, dir) = (&*env.fs, &env.dir);
    let loaded = read_consistent(fs, dir, READ_ONLY_ATTEMPTS, || load(env, false));
    loaded.map_err(|raced| match raced {
        Raced::Failed(e) => e,
        Raced::Changing { attempts, last } => Error::ConcurrentChange {
            path: dir.clone(),
            attempts,
            source: Arc::new(last),
        },
    })
}

/// Reads CURRENT and replays the manifest, replays the WAL into memtables, checks that
/// the files the state needs are there, and opens the live tables; for a `writable`
/// open, removes what a crash left behind before anything new is written.
fn load(env: &Env, writable: bool) -> Result<Loaded> {
    let dir = &env.dir;
    let current = read_current(&*env.fs, dir)?;
    let mut torn_manifest = None;
    let mut state = match current {
        Some(number) => {
            let replayed = replay(&*env.fs, dir, number)?;
            for event in &replayed.events {
                tracing::warn!(?event, "manifest recovery tolerated a torn last edit");
                if let RecoveryEvent::TornTail { offset, .. } = event {
                    torn_manifest = Some((env.path(manifest_file_name(number)), *offset));
                }
            }
            replayed.state
        }
        None => {
            check_empty(&*env.fs, env.format(), dir)?;
            let mut new = LevelState::default();
            let default = new.keyspaces.get_mut(&DEFAULT_KEYSPACE);
            default.expect("a default keyspace").def.expiring = env.options.ttl.is_on();
            new
        }
    };
    let options = keyspace_options(env, &mut state)?;
    let mems: BTreeMap<KeyspaceId, Arc<dyn Memtable>> = (state.keyspaces.keys())
        .map(|&id| (id, env.options.memtable.create()))
        .collect();
    // Replay the WAL segments some keyspace says are not yet all in its tables.
    let mut recovery_options = RecoveryOptions::default();
    recovery_options.mode = env.options.wal_recovery_mode;
    recovery_options.min_segment_id = state.log_number();
    let mut recovery = WalRecovery::open(Arc::clone(&env.fs), dir, recovery_options)?;
    let replayed = recovery.replay_batches(|id| match state.keyspaces.get(&id) {
        Some(keyspace) => Route::Apply {
            memtable: &*mems[&id],
            from_segment: keyspace.log_number,
        },
        // A dropped keyspace's writes stay behind in the WAL until it is retired.
        None if id < state.next_keyspace_id => Route::Dropped,
        None => Route::Unknown,
    })?;
    state.last_sequence = state.last_sequence.max(replayed.last_sequence);
    let first_logs = replayed.first_segments;
    let report = recovery.finish();
    // Before anything is deleted: the state replayed must be one the files on disk can
    // back, or removing "leftovers" below would destroy what a damaged edit described.
    let first_segment = report.segment_ids.first().copied();
    check_needed_files(env, &state, first_segment, torn_manifest)?;
    // Leftovers go before anything new is written: a crash can leave files under numbers
    // the manifest never recorded as used (a table written but not yet in an edit, a new
    // manifest CURRENT was not yet switched to), and this open is about to hand those
    // numbers out again.
    if writable {
        remove_leftovers(env, &state, current)?;
    }
    let mut damaged = false;
    for event in &report.events {
        tracing::warn!(?event, "WAL recovery tolerated damage");
        damaged |= !matches!(event, RecoveryEvent::TornTail { .. });
    }
    tracing::info!(
        records = report.records,
        segments = report.segment_ids.len(),
        last_seq = state.last_sequence,
        "replayed the WAL"
    );
    let mut keyspaces = BTreeMap::new();
    for (id, options) in options {
        let keyspace = &state.keyspaces[&id];
        let tables = open_tables(env, &keyspace.levels, id)?;
        let name = keyspace.def.name.clone();
        let core = KeyspaceCore::new(id, name, options, tables, Arc::clone(&mems[&id]));
        let first = first_logs.get(&id).copied().unwrap_or(0);
        core.first_log.store(first, Ordering::Relaxed);
        keyspaces.insert(id, Arc::new(core));
    }
    Ok(Loaded {
        state,
        current,
        keyspaces,
        report,
        damaged,
    })
}

/// The options each keyspace of `state` runs with (declared in [`Options::keyspaces`], or
/// the database's own), checked against what the manifest recorded when it was created;
/// recording them where nothing was (a version 1 database's default keyspace), so the new
/// manifest holds them.
fn keyspace_options(
    env: &Env,
    state: &mut LevelState,
) -> Result<BTreeMap<KeyspaceId, KeyspaceOptions>> {
    let mut all = BTreeMap::new();
    for (&id, keyspace) in &mut state.keyspaces {
        let def = &mut keyspace.def;
        let declared = env.options.keyspaces.get(&def.name);
        let mut options = match declared.filter(|_| id != DEFAULT_KEYSPACE) {
            Some(options) => options.clone(),
            // Not named: whether it expires is what it was created with.
            None if id != DEFAULT_KEYSPACE && !def.expiring => KeyspaceOptions {
                ttl: Ttl::Off,
                ..KeyspaceOptions::from(&env.options)
            },
            None => KeyspaceOptions::from(&env.options),
        };
        let strategy = options.compaction_strategy.name();
        let conformed = def.conform(env.format().name(), strategy, options.ttl.is_on());
        // What the manifest says decides how values read: expiring, if with no default.
        if def.expiring && !options.ttl.is_on() {
            options.ttl = Ttl::On { default: None };
        }
        conformed.map_err(|reason| Error::KeyspaceOptions {
            name: def.name.clone(),
            reason: format!("{reason} (name its options in Options::keyspaces)"),
        })?;
        all.insert(id, options);
    }
    Ok(all)
}

/// Checks that the files the replayed `state` needs are on disk: the WAL segment at its
/// log number (when any later one exists: `first_present` is the first segment the WAL
/// replay found at or past it) and, after a torn manifest tail, every live table.
///
/// A manifest whose last record fails its checksum is taken for one torn by a crash during
/// the append, and the edit is dropped: it never took effect. But a bit flipped in a last
/// edit that *did* take effect looks the same to the log reader, and dropping that edit
/// silently loses data: a flush's edit retired the WAL segments its table replaced (so
/// the replay would start past them, and their writes would be gone, deleted keys back),
/// and a compaction's edit let its input tables be deleted. What tells the two apart is
/// what happened after the edit was synced: those segments or tables are gone. Segments
/// from the log number on are created in order and only deleted below it, so the first
/// one present must be the log number itself; a gap there without a torn manifest is a
/// segment lost, with its writes.
///
/// Segment 0 is never written: a new database's first segment is 1.
fn check_needed_files(
    env: &Env,
    state: &LevelState,
    first_present: Option<u64>,
    torn_manifest: Option<(PathBuf, u64)>,
) -> Result<()> {
    let (fs, dir) = (&*env.fs, &env.dir);
    let first_needed = state.log_number().max(1);
    let mut missing = match first_present {
        Some(first) if first != first_needed => Some((
            segment_path(dir, first_needed),
            format!("WAL segment {first_needed} is missing (found segment {first} after it)"),
        )),
        _ => None,
    };
    if torn_manifest.is_some() && missing.is_none() {
        for number in state.live_files() {
            let path = env.format().path(dir, number);
            if !fs.exists(&path).map_err(|e| Error::io(&path, e))? {
                missing = Some((path, format!("live table {number} is missing")));
                break;
            }
        }
    }
    let (file, offset, reason) = match (missing, torn_manifest) {
        (None, _) => return Ok(()),
        (Some((_, what)), Some((manifest, offset))) => (
            manifest,
            offset,
            format!(
                "the last edit is damaged, yet it took effect ({what}): this is not a torn write"
            ),
        ),
        (Some((file, reason)), None) => (file, 0, reason),
    };
    Err(Error::Corruption(ferris_core::Corruption::new(
        file, offset, reason,
    )))
}

/// What a FerrisDB directory may hold, by name.
enum Kind {
    Lock,
    Current,
    Manifest(u64),
    Table(u64),
    Segment(u64),
    Temporary,
    Foreign,
}

fn classify(format: &dyn TableFormat, name: &str) -> Kind {
    if name == LOCK {
        Kind::Lock
    } else if name == CURRENT {
        Kind::Current
    } else if name == CURRENT_TMP {
        Kind::Temporary
    } else if let Some(n) = parse_manifest_file_name(name) {
        Kind::Manifest(n)
    } else if let Some(table) = format.parse_file_name(name) {
        match table.temporary {
            true => Kind::Temporary,
            false => Kind::Table(table.number),
        }
    } else if let Some(n) = parse_segment_file_name(name) {
        Kind::Segment(n)
    } else {
        Kind::Foreign
    }
}

/// A directory without CURRENT becomes a new database only if it holds nothing but what a
/// crash during creation leaves (the lock, a manifest, temporaries). Tables or WAL
/// segments without CURRENT mean CURRENT was lost, and guessing could destroy data.
fn check_empty(fs: &dyn FileSystem, format: &dyn TableFormat, dir: &Path) -> Result<()> {
    let names = fs.list(dir).map_err(|e| Error::io(dir, e))?;
    for name in &names {
        let reason = match classify(format, name) {
            Kind::Lock | Kind::Manifest(_) | Kind::Temporary | Kind::Current => continue,
            Kind::Table(_) | Kind::Segment(_) => format!(
                "it holds {name} but no CURRENT file; refusing to guess which files are live"
            ),
            Kind::Foreign => format!("it holds {name}, which FerrisDB did not write"),
        };
        return Err(Error::NotADatabase {
            path: dir.to_path_buf(),
            reason,
        });
    }
    Ok(())
}

/// Removes what a crash (or a finished flush whose cleanup was cut short) left behind:
/// manifests other than `current`, temporaries, tables no version lists, and WAL segments
/// already flushed.
fn remove_leftovers(env: &Env, state: &LevelState, current: Option<u64>) -> Result<()> {
    let (fs, dir): (&dyn FileSystem, &Path) = (&*env.fs, &env.dir);
    let live: std::collections::HashSet<u64> = state.live_files().collect();
    let mut removed = 0;
    for name in fs.list(dir).map_err(|e| Error::io(dir, e))? {
        let doomed = match classify(env.format(), &name) {
            Kind::Manifest(n) => Some(n) != current,
            Kind::Table(n) => !live.contains(&n),
            Kind::Segment(n) => n < state.log_number(),
            Kind::Temporary => true,
            Kind::Lock | Kind::Current | Kind::Foreign => false,
        };
        if doomed {
            let path = dir.join(&name);
            fs.remove(&path).map_err(|e| Error::io(&path, e))?;
            tracing::info!(file = %name, "removed a leftover file");
            removed += 1;
        }
    }
    if removed > 0 {
        fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}
