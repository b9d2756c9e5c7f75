//! Opening a database: lock, CURRENT, manifest, tables, WAL replay, cleanup.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::WriteBatch;
use ferris_fs::FileSystem;
use ferris_manifest::{
    CURRENT_TMP, LevelState, ManifestWriter, parse_manifest_file_name, read_current, replay,
    write_current,
};
use ferris_memtable::SkipListMemtable as Memtable;
use ferris_sstable::{BlockCache, ReadOptions};
use ferris_wal::format::{parse_segment_file_name, segment_path};
use ferris_wal::{RecoveryEvent, RecoveryOptions, Wal, WalOptions, WalRecovery};

use crate::db::{Core, Inner};
use crate::error::{Error, Result};
use crate::flush::{TableSink, write_table};
use crate::options::Options;
use crate::version::{SuperVersion, Version, parse_table_name};

/// The lock file's name.
pub(crate) const LOCK: &str = "LOCK";

/// Open flushes what it replayed once this many WAL segments needed replay.
const MAX_REPLAYED_SEGMENTS: usize = 4;

struct Ctx {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    options: Options,
    read_options: ReadOptions,
}

impl TableSink for Ctx {
    fn fs(&self) -> &Arc<dyn FileSystem> {
        &self.fs
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn read_options(&self) -> &ReadOptions {
        &self.read_options
    }
    fn options(&self) -> &Options {
        &self.options
    }
}

pub(crate) fn open(dir: &Path, options: Options) -> Result<Inner> {
    let fs = options.file_system.clone();
    let exists = fs.exists(dir).map_err(|e| Error::io(dir, e))?;
    if !exists {
        if !options.create_if_missing {
            return Err(Error::NotADatabase {
                path: dir.to_path_buf(),
                reason: "the directory does not exist (and create_if_missing is off)".into(),
            });
        }
        fs.create_dir_all(dir)
            .map_err(|e| Error::io_on_open(dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
    }
    let lock_path = dir.join(LOCK);
    let lock = fs.lock(&lock_path).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => Error::Locked {
            path: lock_path.clone(),
        },
        _ => Error::io_on_open(&lock_path, e),
    })?;

    let block_cache = Arc::new(BlockCache::new(options.block_cache_size));
    let ctx = Ctx {
        fs: fs.clone(),
        dir: dir.to_path_buf(),
        read_options: ReadOptions::with_cache(block_cache.clone()),
        options,
    };

    let current = read_current(&*fs, dir).map_err(Error::Manifest)?;
    let mut torn_manifest = None;
    let mut state = match current {
        Some(number) => {
            let replayed = replay(&*fs, dir, number).map_err(Error::Manifest)?;
            for event in &replayed.events {
                tracing::warn!(?event, "manifest recovery tolerated a torn last edit");
                if let RecoveryEvent::TornTail { offset, .. } = event {
                    let path = dir.join(ferris_manifest::manifest_file_name(number));
                    torn_manifest = Some((path, *offset));
                }
            }
            replayed.state
        }
        None => {
            check_empty(&*fs, dir)?;
            tracing::info!(dir = %dir.display(), "creating a new database");
            LevelState::default()
        }
    };
    // Before anything is deleted: the state replayed must be one the files on disk can
    // back, or removing "leftovers" below would destroy what a damaged edit described.
    check_needed_files(&*fs, dir, &state, torn_manifest)?;
    // Leftovers go before anything new is written: a crash can leave files under numbers
    // the manifest never recorded as used (a table written but not yet in an edit, a new
    // manifest CURRENT was not yet switched to), and this open is about to hand those
    // numbers out again.
    remove_leftovers(&*fs, dir, &state, current)?;
    let version = Version::open(&fs, dir, &state, &ctx.read_options)?;

    // Replay the WAL segments the manifest says are not yet in tables.
    let mut recovery_options = RecoveryOptions::default();
    recovery_options.mode = ctx.options.wal_recovery_mode;
    recovery_options.min_segment_id = state.log_number;
    let mut recovery = WalRecovery::open(fs.clone(), dir, recovery_options)?;
    let mem = Arc::new(Memtable::new());
    let mut last_seq = state.last_sequence;
    while let Some(record) = recovery.next_record()? {
        let batch = WriteBatch::decode(&record.data).map_err(|e| Error::Corruption {
            file: segment_path(dir, record.segment_id),
            offset: record.offset,
            reason: format!("a WAL record is not a write batch: {e}"),
        })?;
        mem.apply(batch.iter());
        if let Some(last) = batch.last_seq() {
            last_seq = last_seq.max(last);
        }
    }
    let report = recovery.finish();
    let mut damaged = false;
    for event in &report.events {
        tracing::warn!(?event, "WAL recovery tolerated damage");
        damaged |= !matches!(event, RecoveryEvent::TornTail { .. });
    }
    tracing::info!(
        records = report.records,
        segments = report.segment_ids.len(),
        last_seq,
        "replayed the WAL"
    );
    state.last_sequence = last_seq;

    // The recovered memtable is written to a table at once, and every replayed segment
    // retired, when:
    // - damage was skipped (only in the lenient recovery modes): replaying those segments
    //   again later, past the damage, could resurrect writes from after a hole;
    // - there was nothing to replay: the segments are empty and can simply go;
    // - many segments have piled up, as they do when a database is opened for a few writes
    //   at a time (each open starts a new segment): without this they would grow without
    //   bound until the memtable filled.
    let retire = damaged || mem.is_empty() || report.segment_ids.len() >= MAX_REPLAYED_SEGMENTS;
    let (mem, version) = if retire {
        let number = state.take_file_number();
        let mut added = Vec::new();
        let mut edit = ferris_manifest::VersionEdit {
            log_number: Some(report.next_segment_id),
            ..Default::default()
        };
        if let Some(file) = write_table(&ctx, number, &mem)? {
            edit.added.push((0, (*file.meta).clone()));
            added.push(file);
        }
        state.apply(&edit).map_err(|reason| Error::Corruption {
            file: dir.to_path_buf(),
            offset: 0,
            reason,
        })?;
        (Arc::new(Memtable::new()), version.apply(&edit, added))
    } else {
        (mem, version)
    };

    // Every open starts a fresh manifest holding one snapshot, then switches CURRENT.
    let manifest_number = state.take_file_number();
    let manifest = ManifestWriter::create(&fs, dir, manifest_number, &state.snapshot())
        .map_err(Error::Manifest)?;
    write_current(&*fs, dir, manifest_number).map_err(Error::Manifest)?;
    if let Some(old) = current {
        let path = dir.join(ferris_manifest::manifest_file_name(old));
        fs.remove(&path).map_err(|e| Error::io(&path, e))?;
        fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    }

    let mut wal_options = WalOptions::default();
    wal_options.segment_size = ctx.options.wal_segment_size;
    let wal = Wal::create(fs.clone(), dir, report.next_segment_id, wal_options)?;

    let core = Core {
        state,
        manifest,
        next_imm_id: 0,
        flushed_imm_id: 0,
        poisoned: None,
        shutting_down: false,
        busy: Default::default(),
        manual: None,
        manual_done: 0,
        idle_seq: None,
    };
    let sv = SuperVersion {
        mem,
        imms: Vec::new(),
        version: Arc::new(version),
    };
    Ok(Inner::new(
        fs,
        dir.to_path_buf(),
        ctx.options,
        block_cache,
        wal,
        last_seq,
        sv,
        core,
        lock,
    ))
}

/// Checks that the files the replayed `state` needs are on disk: the WAL segment at its
/// log number (when any later one exists) and, after a torn manifest tail, every live
/// table.
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
    fs: &dyn FileSystem,
    dir: &Path,
    state: &LevelState,
    torn_manifest: Option<(PathBuf, u64)>,
) -> Result<()> {
    let first_needed = state.log_number.max(1);
    let first_present = ferris_wal::list_segments(fs, dir)?
        .into_iter()
        .find(|&id| id >= state.log_number);
    let mut missing = match first_present {
        Some(first) if first != first_needed => Some((
            segment_path(dir, first_needed),
            format!("WAL segment {first_needed} is missing (found segment {first} after it)"),
        )),
        _ => None,
    };
    if torn_manifest.is_some() && missing.is_none() {
        for number in state.live_files() {
            let path = crate::version::table_path(dir, number);
            if !fs.exists(&path).map_err(|e| Error::io(&path, e))? {
                missing = Some((path, format!("live table {number} is missing")));
                break;
            }
        }
    }
    match (missing, torn_manifest) {
        (None, _) => Ok(()),
        (Some((_, what)), Some((manifest, offset))) => Err(Error::Corruption {
            file: manifest,
            offset,
            reason: format!(
                "the last edit is damaged, yet it took effect ({what}): this is not a torn write"
            ),
        }),
        (Some((file, reason)), None) => Err(Error::Corruption {
            file,
            offset: 0,
            reason,
        }),
    }
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

fn classify(name: &str) -> Kind {
    if name == LOCK {
        Kind::Lock
    } else if name == ferris_manifest::CURRENT {
        Kind::Current
    } else if name == CURRENT_TMP || name.ends_with(".sst.tmp") {
        Kind::Temporary
    } else if let Some(n) = parse_manifest_file_name(name) {
        Kind::Manifest(n)
    } else if let Some(n) = parse_table_name(name) {
        Kind::Table(n)
    } else if let Some(n) = parse_segment_file_name(name) {
        Kind::Segment(n)
    } else {
        Kind::Foreign
    }
}

/// A directory without CURRENT becomes a new database only if it holds nothing but what a
/// crash during creation leaves (the lock, a manifest, temporaries). Tables or WAL
/// segments without CURRENT mean CURRENT was lost, and guessing could destroy data.
fn check_empty(fs: &dyn FileSystem, dir: &Path) -> Result<()> {
    let names = fs.list(dir).map_err(|e| Error::io(dir, e))?;
    for name in &names {
        let reason = match classify(name) {
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
fn remove_leftovers(
    fs: &dyn FileSystem,
    dir: &Path,
    state: &LevelState,
    current: Option<u64>,
) -> Result<()> {
    let live: std::collections::HashSet<u64> = state.live_files().collect();
    let mut removed = 0;
    for name in fs.list(dir).map_err(|e| Error::io(dir, e))? {
        let doomed = match classify(&name) {
            Kind::Manifest(n) => Some(n) != current,
            Kind::Table(n) => !live.contains(&n),
            Kind::Segment(n) => n < state.log_number,
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
