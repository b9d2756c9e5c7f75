//! The writer: appends records with group commit, rotates and purges segments.
//!
//! # Group commit, leader and followers
//!
//! An fsync costs the same whether it covers one record or a hundred, so concurrent
//! writers should share it. Every [`Wal::append`] enqueues its record under a mutex and then
//! either waits, or, if no write is in progress, becomes the **leader**:
//!
//! ```text
//!  thread A: enqueue r1 ── lead: take [r1]       ── write+fsync ── wake A
//!  thread B:   enqueue r2 ── wait ─────────────────────────────── lead: take [r2,r3] ── write+fsync ── wake B, C
//!  thread C:      enqueue r3 ── wait ───────────────────────────────────────────────────────────── (woken)
//! ```
//!
//! The leader takes the whole queue, releases the mutex, frames every record into one
//! buffer, makes one `append` and, if any record in the group asked for it, one `sync`.
//! Records that arrive meanwhile queue up for the next leader. Under load the groups grow
//! by themselves, which is exactly when sharing fsyncs pays.
//!
//! A leader whose own record wants an fsync first gathers: it waits, briefly, for the
//! writers the last durable group released to queue again ([`crate::group`] explains why
//! groups otherwise settle at half the writers).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferris_fs::{FileSystem, WritableFile};
use ferris_log::format::{
    BLOCK_SIZE, MAX_RECORD_LEN, SEGMENT_HEADER_LEN, encode_segment_header, frame_record, frame_seal,
};

use crate::error::{Error, Result};
use crate::format::{RECORD_FORMAT, parse_segment_file_name, segment_path};
use crate::group::{GroupPacer, Handoff, SPIN, gather};

/// How far ahead of its appends a segment file's length is set, at most (a smaller
/// [`WalOptions::segment_size`], rounded up to whole blocks, is used instead).
///
/// An append past the end of a file changes its length, so the fsync after it must write
/// the file's metadata as well as its data; inside a length set in advance
/// ([`ferris_fs::WritableFile::reserve`]) it has only data to write. The active segment
/// therefore ends in up to this many zero bytes, which the reader takes for zero padding,
/// block after block: this is a whole number of blocks, so there is never a short zero
/// block at the end. Sealing cuts a segment back to its seal.
pub const RESERVE_STEP: u64 = 1 << 20;

const _: () = assert!(RESERVE_STEP.is_multiple_of(BLOCK_SIZE as u64));

/// When [`Wal::append`] makes a record durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncMode {
    /// Every append returns only once its record is fsync'd (shared with concurrent
    /// appends through group commit). A power cut loses nothing that was acknowledged.
    #[default]
    Always,
    /// Appends return once the record is handed to the operating system, which survives a
    /// crash of the process but not a power cut. The caller decides when to pay for
    /// durability with [`Wal::sync`].
    Manual,
}

/// Options for [`Wal::create`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct WalOptions {
    /// When appends are made durable (default [`SyncMode::Always`]).
    pub sync_mode: SyncMode,
    /// A segment is sealed and a new one started once it reaches this many bytes (default
    /// 64 MiB). A segment may exceed it by the last group written to it.
    pub segment_size: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            sync_mode: SyncMode::Always,
            segment_size: 64 << 20,
        }
    }
}

/// Counters of what the writer has done since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WalStats {
    /// Records appended.
    pub records: u64,
    /// Payload bytes appended (excluding framing).
    pub payload_bytes: u64,
    /// Bytes written to segment files, framing and headers included.
    pub file_bytes: u64,
    /// Groups written: one `append` call to the file system each.
    pub groups: u64,
    /// fsyncs of segment files.
    pub syncs: u64,
    /// Segments sealed and replaced by a new one.
    pub rotations: u64,
}

/// A write-ahead log writer over a directory of segment files.
///
/// `Wal` is `Send + Sync`: share it (in an `Arc`) between threads and call
/// [`append`](Wal::append) concurrently to get group commit.
#[derive(Debug)]
pub struct Wal {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    /// Where followers wait for a leader to finish, so they can check their record.
    handoff: Handoff,
    stats: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    records: AtomicU64,
    payload_bytes: AtomicU64,
    file_bytes: AtomicU64,
    groups: AtomicU64,
    syncs: AtomicU64,
    rotations: AtomicU64,
}

#[derive(Debug)]
struct State {
    /// Records waiting for a leader, concatenated, with their lengths.
    queue: Vec<u8>,
    queue_lens: Vec<usize>,
    /// Some record or caller waiting on the queue asked for an fsync.
    queue_wants_sync: bool,
    /// Some caller asked for the segment to be sealed after the queue is written.
    queue_wants_rotate: bool,
    /// Tickets: every enqueued record (and every sync or rotate request) takes the next
    /// one; and the last durable group, for the next leader to gather its callers again.
    pacer: GroupPacer,
    /// Every ticket below this has been written to the OS.
    written: u64,
    /// Every ticket below this is durable.
    synced: u64,
    /// A leader is doing I/O (and has taken `segment`).
    leader_active: bool,
    /// The open segment; `None` while a leader holds it, or after close.
    segment: Option<Segment>,
    /// Reusable buffers, handed back by the leader.
    spare: (Vec<u8>, Vec<usize>),
    /// The failure that poisoned the WAL, handed to every later caller as the source of
    /// its [`Error::Poisoned`].
    poisoned: Option<Arc<Error>>,
    closed: bool,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    path: PathBuf,
    file: Box<dyn WritableFile>,
    /// The file's length as last set by `reserve`: appends up to here overwrite zeros.
    reserved: u64,
    reserve_step: u64,
    block_offset: usize,
    n_records: u64,
    /// Framed bytes of the group being written; kept to reuse its allocation.
    buf: Vec<u8>,
}

/// What one leader turn does.
struct Job {
    data: Vec<u8>,
    lens: Vec<usize>,
    sync: bool,
    rotate: bool,
    upto: u64,
}

impl Wal {
    /// Creates a new segment `first_segment_id` in `dir` and returns a writer appending to
    /// it. Call this after recovery, with
    /// [`RecoveryReport::next_segment_id`](crate::RecoveryReport::next_segment_id): the WAL
    /// never appends to a segment that existed before, so whatever a crash left at the end of
    /// an old segment stays exactly as recovery found it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the segment file cannot be created (it must not already exist),
    /// written or synced, or the directory cannot be synced.
    pub fn create(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        first_segment_id: u64,
        options: WalOptions,
    ) -> Result<Wal> {
        let segment = open_segment(&*fs, dir, first_segment_id, &options)?;
        let stats = Counters::default();
        stats
            .file_bytes
            .fetch_add(SEGMENT_HEADER_LEN as u64, Ordering::Relaxed);
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(Wal {
            fs,
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(State {
                queue: Vec::new(),
                queue_lens: Vec::new(),
                queue_wants_sync: false,
                queue_wants_rotate: false,
                pacer: GroupPacer::default(),
                written: 0,
                synced: 0,
                leader_active: false,
                segment: Some(segment),
                spare: (Vec::new(), Vec::new()),
                poisoned: None,
                closed: false,
            }),
            handoff: Handoff::default(),
            stats,
        })
    }

    /// Appends one record, made durable according to [`WalOptions::sync_mode`].
    ///
    /// # Errors
    ///
    /// [`Error::RecordTooLarge`] for a record over [`MAX_RECORD_LEN`]; [`Error::Io`] if this
    /// call led the group whose write or sync failed; [`Error::Poisoned`] if any earlier (or
    /// concurrent) write or sync failed; [`Error::Closed`] after [`Wal::close`]. On any error
    /// the record must be treated as not durable.
    pub fn append(&self, record: &[u8]) -> Result<()> {
        self.append_with(record, self.options.sync_mode)
    }

    /// Appends one record with an explicit sync mode for this call.
    ///
    /// # Errors
    ///
    /// As [`Wal::append`].
    pub fn append_with(&self, record: &[u8], sync: SyncMode) -> Result<()> {
        if record.len() as u64 > MAX_RECORD_LEN {
            return Err(Error::RecordTooLarge {
                len: record.len() as u64,
                max: MAX_RECORD_LEN,
            });
        }
        let mut state = self.lock()?;
        state.queue.extend_from_slice(record);
        state.queue_lens.push(record.len());
        let want_sync = sync == SyncMode::Always;
        state.queue_wants_sync |= want_sync;
        self.run_turn(state, want_sync).map(drop)
    }

    /// Makes every record appended so far durable.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the fsync fails (the WAL is then poisoned), [`Error::Poisoned`],
    /// [`Error::Closed`].
    pub fn sync(&self) -> Result<()> {
        let mut state = self.lock()?;
        state.queue_wants_sync = true;
        self.run_turn(state, true).map(drop)
    }

    /// Seals the current segment and starts the next one, returning the new segment's id.
    /// Records appended before this call are in the old segment, records appended after it
    /// in the new one. The engine calls this when it switches memtables, so that each
    /// segment can be deleted once the memtables it fed are flushed.
    ///
    /// # Errors
    ///
    /// As [`Wal::sync`], plus failures creating the new segment.
    pub fn rotate(&self) -> Result<u64> {
        let mut state = self.lock()?;
        state.queue_wants_rotate = true;
        let state = self.run_turn(state, false)?;
        // The rotation is done, but another thread may have closed the WAL (taking the
        // segment) between the turn that rotated and this thread waking up; and another
        // leader may hold the segment right now.
        let state = self.wait_for_segment(state)?;
        Ok(state
            .segment
            .as_ref()
            .expect("waited for the segment and checked it is open")
            .id)
    }

    /// The id of the segment currently appended to.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] or [`Error::Closed`].
    pub fn active_segment_id(&self) -> Result<u64> {
        let state = self.lock()?;
        let state = self.wait_for_segment(state)?;
        Ok(state.segment.as_ref().expect("waited for the segment").id)
    }

    /// The id of the segment currently appended to, and how many bytes of it the groups
    /// written so far fill (its header included). Past that length the file holds nothing
    /// yet, or only the zeros of its reserved length: a reader of the live segment should
    /// stop there ([`SegmentReader::open_to`](crate::SegmentReader::open_to)).
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] or [`Error::Closed`].
    pub fn active_segment_len(&self) -> Result<(u64, u64)> {
        let state = self.lock()?;
        let state = self.wait_for_segment(state)?;
        let segment = state.segment.as_ref().expect("waited for the segment");
        Ok((segment.id, segment.file.len()))
    }

    /// The ids of every segment file in the directory, ascending.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory cannot be listed.
    pub fn segment_ids(&self) -> Result<Vec<u64>> {
        list_segments(&*self.fs, &self.dir)
    }

    /// Deletes every segment older than `segment_id` (never the active one), then syncs the
    /// directory. Returns how many were removed. Call it once everything those segments
    /// hold is durable elsewhere, such as in a flushed table.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if listing, removing or the directory sync fails; segments removed
    /// before the failure stay removed.
    pub fn remove_segments_before(&self, segment_id: u64) -> Result<usize> {
        let active = self.active_segment_id()?;
        // Segment ids only grow, so anything at or above the active id read above is the
        // active segment or one a concurrent rotation created since: never a candidate.
        let limit = segment_id.min(active);
        let doomed: Vec<u64> = self
            .segment_ids()?
            .into_iter()
            .filter(|&id| id < limit)
            .collect();
        // Oldest first, so a crash part-way leaves a contiguous run of segments.
        for &id in &doomed {
            let path = segment_path(&self.dir, id);
            self.fs.remove(&path).map_err(|e| Error::io(path, e))?;
        }
        if !doomed.is_empty() {
            self.fs
                .sync_dir(&self.dir)
                .map_err(|e| Error::io(&self.dir, e))?;
        }
        Ok(doomed.len())
    }

    /// Seals the active segment, syncs it, and closes the WAL. Later calls fail with
    /// [`Error::Closed`]. Dropping a `Wal` without closing it is also safe: the last segment
    /// is simply left unsealed, which recovery reads exactly like a segment cut short by a
    /// crash.
    ///
    /// # Errors
    ///
    /// As [`Wal::sync`].
    pub fn close(&self) -> Result<()> {
        let mut state = self.lock()?;
        state = self.wait_for_segment(state)?;
        let mut segment = state.segment.take().expect("waited for the segment");
        state.closed = true;
        let wake = self.handoff.finish(&state);
        drop(state);
        if wake {
            self.handoff.wake();
        }
        let mut out = std::mem::take(&mut segment.buf);
        out.clear();
        frame_seal(&mut out, &mut segment.block_offset, segment.n_records);
        let result = segment.seal(&out);
        match &result {
            Ok(()) => {
                self.stats
                    .file_bytes
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                self.stats.syncs.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.lock_raw().poisoned = Some(Arc::new(e.clone())),
        }
        result
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> WalStats {
        let c = &self.stats;
        WalStats {
            records: c.records.load(Ordering::Relaxed),
            payload_bytes: c.payload_bytes.load(Ordering::Relaxed),
            file_bytes: c.file_bytes.load(Ordering::Relaxed),
            groups: c.groups.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
        }
    }

    fn lock_raw(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock can only come from a bug in this module; the state
        // it guards is still consistent at every await point, so keep going.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        let state = self.lock_raw();
        check_usable(&state)?;
        Ok(state)
    }

    /// Waits until a leader may have finished its group, yielding for up to `spin` before
    /// it sleeps (see [`Handoff`]).
    fn wait_group<'a>(
        &'a self,
        state: MutexGuard<'a, State>,
        spin: Duration,
    ) -> MutexGuard<'a, State> {
        self.handoff.wait(&self.state, state, spin)
    }

    fn wait_for_segment<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>> {
        while state.leader_active {
            state = self.wait_group(state, Duration::ZERO);
        }
        check_usable(&state)?;
        Ok(state)
    }

    /// Takes a ticket for the request just enqueued, then leads or follows until the group
    /// holding that ticket is done.
    fn run_turn<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        want_sync: bool,
    ) -> Result<MutexGuard<'a, State>> {
        let ticket = state.pacer.take_ticket();
        loop {
            let done = if want_sync {
                state.synced > ticket
            } else {
                state.written > ticket
            };
            if done {
                return Ok(state);
            }
            check_usable(&state)?;
            if state.leader_active {
                // A follower that wants no fsync yields a while first: its group takes
                // microseconds, less than a sleep and a wake-up.
                let spin = if want_sync { Duration::ZERO } else { SPIN };
                state = self.wait_group(state, spin);
                continue;
            }
            if want_sync {
                // Lead already, so that callers arriving meanwhile join this group.
                state.leader_active = true;
                state = gather(&self.state, state, |s| &mut s.pacer);
            }
            state = self.lead(state)?;
        }
    }

    /// One leader turn: take the queue, write it (and sync, and rotate, as asked) with the
    /// mutex released, then publish the result.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, State>) -> Result<MutexGuard<'a, State>> {
        let mut segment = state
            .segment
            .take()
            .expect("no leader is active, so the segment is here");
        let (spare_data, spare_lens) = std::mem::take(&mut state.spare);
        let job = Job {
            data: std::mem::replace(&mut state.queue, spare_data),
            lens: std::mem::replace(&mut state.queue_lens, spare_lens),
            sync: std::mem::take(&mut state.queue_wants_sync),
            rotate: std::mem::take(&mut state.queue_wants_rotate),
            upto: state.pacer.next_ticket(),
        };
        state.leader_active = true;
        drop(state);

        // Timed only when it syncs: that time bounds the next leader's gathering, and
        // reading the clock is not free on the path without fsyncs.
        let started = job.sync.then(Instant::now);
        let result = self.write_group(&mut segment, &job);
        let synced = started.filter(|_| result.is_ok()).map(|t| t.elapsed());

        let mut state = self.lock_raw();
        state.leader_active = false;
        let members = job.upto - state.written;
        state.pacer.released(members, synced);
        let Job {
            mut data,
            mut lens,
            sync,
            upto,
            ..
        } = job;
        data.clear();
        lens.clear();
        state.spare = (data, lens);
        let outcome = match result {
            Ok(next) => {
                state.segment = Some(next.unwrap_or(segment));
                state.written = upto;
                if sync {
                    state.synced = upto;
                }
                Ok(())
            }
            Err(e) => {
                state.poisoned = Some(Arc::new(e.clone()));
                // Keep the damaged segment so that close() and friends report Poisoned
                // rather than finding it missing.
                state.segment = Some(segment);
                Err(e)
            }
        };
        if self.handoff.finish(&state) {
            self.handoff.wake();
        }
        outcome.map(|()| state)
    }

    /// Frames and writes a group; returns the new segment if the group rotated.
    fn write_group(&self, segment: &mut Segment, job: &Job) -> Result<Option<Segment>> {
        let mut out = std::mem::take(&mut segment.buf);
        out.clear();
        let mut start = 0;
        for &len in &job.lens {
            frame_record(
                &mut out,
                &mut segment.block_offset,
                &job.data[start..start + len],
            );
            start += len;
        }
        segment.n_records += job.lens.len() as u64;
        let rotate = job.rotate
            || (!job.lens.is_empty()
                && segment.file.len() + out.len() as u64 >= self.options.segment_size);
        let n_out = out.len() as u64;
        let result = if rotate {
            // The seal goes out with the group; syncing the old segment here means every
            // record before a rotation is durable, whatever sync mode its writer chose, so
            // only the active segment can ever end torn.
            frame_seal(&mut out, &mut segment.block_offset, segment.n_records);
            segment.seal(&out)
        } else if job.sync {
            segment.append(&out).and_then(|()| segment.sync())
        } else {
            segment.append(&out)
        };
        let n_written = out.len() as u64;
        segment.buf = out;
        result?;

        let c = &self.stats;
        c.records
            .fetch_add(job.lens.len() as u64, Ordering::Relaxed);
        c.payload_bytes
            .fetch_add(job.data.len() as u64, Ordering::Relaxed);
        c.file_bytes.fetch_add(n_written, Ordering::Relaxed);
        if n_out > 0 {
            c.groups.fetch_add(1, Ordering::Relaxed);
        }
        if rotate || job.sync {
            c.syncs.fetch_add(1, Ordering::Relaxed);
        }
        if !rotate {
            return Ok(None);
        }
        let next = open_segment(&*self.fs, &self.dir, segment.id + 1, &self.options)?;
        c.rotations.fetch_add(1, Ordering::Relaxed);
        c.file_bytes
            .fetch_add(SEGMENT_HEADER_LEN as u64, Ordering::Relaxed);
        c.syncs.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            sealed = segment.id,
            started = next.id,
            "wal segment rotated"
        );
        Ok(Some(next))
    }
}

fn check_usable(state: &State) -> Result<()> {
    if let Some(cause) = &state.poisoned {
        return Err(Error::Poisoned {
            cause: Arc::clone(cause),
        });
    }
    if state.closed {
        return Err(Error::Closed);
    }
    Ok(())
}

impl Segment {
    /// Appends `bytes` into the segment's reserved length, first setting the length the
    /// next `reserve_step` further when they would run past it ([`RESERVE_STEP`] says
    /// why). A step at a time, so one group in thousands pays for a length change, and the
    /// file never runs more than a step ahead of its records.
    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let end = self.file.len() + bytes.len() as u64;
        if end > self.reserved {
            let reserved = end.next_multiple_of(self.reserve_step);
            self.file
                .reserve(reserved)
                .map_err(|e| Error::io(&self.path, e))?;
            self.reserved = reserved;
        }
        self.file
            .append(bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn sync(&mut self) -> Result<()> {
        self.file.sync().map_err(|e| Error::io(&self.path, e))
    }

    /// Appends the last group and the seal, cuts the file back to them, and syncs: a
    /// sealed segment ends at its seal, byte for byte what it would be without reserving.
    fn seal(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .append(bytes)
            .and_then(|()| self.file.reserve(0))
            .map_err(|e| Error::io(&self.path, e))?;
        self.reserved = 0;
        self.sync()
    }
}

/// Creates segment `id`: header written, its length set a reserve step ahead, both synced,
/// then the directory synced so the new name itself survives a power cut before any
/// record in it is acknowledged.
fn open_segment(fs: &dyn FileSystem, dir: &Path, id: u64, options: &WalOptions) -> Result<Segment> {
    // A small segment size should not reserve more than the segment will ever hold.
    let reserve_step = RESERVE_STEP
        .min(options.segment_size)
        .next_multiple_of(BLOCK_SIZE as u64)
        .max(BLOCK_SIZE as u64);
    let path = segment_path(dir, id);
    let mut file = fs.create(&path).map_err(|e| Error::io(&path, e))?;
    file.append(&encode_segment_header(id, RECORD_FORMAT))
        .and_then(|()| file.reserve(reserve_step))
        .and_then(|()| file.sync())
        .map_err(|e| Error::io(&path, e))?;
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(Segment {
        id,
        path,
        file,
        reserved: reserve_step,
        reserve_step,
        block_offset: SEGMENT_HEADER_LEN,
        n_records: 0,
        buf: Vec::new(),
    })
}

/// The ids of the segment files in `dir`, ascending. Other files are ignored.
///
/// # Errors
///
/// [`Error::Io`] if the directory cannot be listed.
pub fn list_segments(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<u64>> {
    let names = fs.list(dir).map_err(|e| Error::io(dir, e))?;
    let mut ids: Vec<u64> = names
        .iter()
        .filter_map(|n| parse_segment_file_name(n))
        .collect();
    ids.sort_unstable();
    Ok(ids)
}
