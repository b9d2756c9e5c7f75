//! `cargo xtask compaction-sim`: runs compaction strategies over a synthetic workload with
//! no I/O, and prints the write, space and read amplification each gives.
//!
//! The model: keys are numbers, every write is an overwrite of a uniformly random key, a
//! memtable of `--memtable` entries is flushed as one level-0 table (all its versions, as
//! the engine's flush keeps them), and after every flush the strategy is asked for
//! compactions until it has none; a merge keeps the newest version of each key (there are
//! no snapshots or deletes in this workload) and cuts its output every `--table` entries,
//! between keys. Compactions finish instantly here, so the figures show what each strategy
//! *chooses* to rewrite, not how it copes with a slow disk. Level 1's size target is ten
//! memtables, and each level ten times the one above.
//!
//! Set `SIM_DEBUG=1` to print every choice the strategies make.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use ferris_compaction::{Choice, CompactionOptions, Leveled, Strategy, Tiered, View};
use ferris_core::level::{FileMeta, Levels, NUM_LEVELS};
use ferris_core::{InternalKey, ValueKind};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Options of `cargo xtask compaction-sim`.
#[derive(Args, Debug)]
pub(crate) struct SimArgs {
    /// Distinct keys.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u32,
    /// Writes (random overwrites).
    #[arg(long, default_value_t = 5_000_000)]
    writes: u64,
    /// Entries per memtable flush.
    #[arg(long, default_value_t = 10_000)]
    memtable: usize,
    /// Entries per compaction output table.
    #[arg(long, default_value_t = 10_000)]
    table: usize,
    /// Bytes per entry, for the level size targets (16-byte key, 100-byte value).
    #[arg(long, default_value_t = 116)]
    entry_bytes: u64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The tiered strategy's run limit, `Tiered::max_runs` (default: `Tiered::default()`'s).
    /// 3 reproduces the tiered strategy before its tuning, 4 RocksDB's rule.
    #[arg(long)]
    tiered_max_runs: Option<usize>,
}

/// A simulated table: its entries as (key, seq), sorted by key then newest first.
struct SimTable {
    meta: Arc<FileMeta>,
    entries: Vec<(u32, u64)>,
}

struct Sim {
    levels: Vec<Vec<SimTable>>,
    next_number: u64,
    entry_bytes: u64,
    table_entries: usize,
    written: u64,
    compactions: u64,
}

fn key(k: u32) -> Vec<u8> {
    k.to_be_bytes().to_vec()
}

impl Sim {
    fn table(&mut self, entries: Vec<(u32, u64)>) -> SimTable {
        let (first, last) = (entries[0], entries[entries.len() - 1]);
        self.next_number += 1;
        let meta = FileMeta {
            number: self.next_number,
            size: entries.len() as u64 * self.entry_bytes,
            smallest: InternalKey::new(key(first.0), first.1, ValueKind::Put),
            largest: InternalKey::new(key(last.0), last.1, ValueKind::Put),
            min_seq: entries.iter().map(|e| e.1).min().unwrap_or(0),
            max_seq: entries.iter().map(|e| e.1).max().unwrap_or(0),
            entries: entries.len() as u64,
            tombstones: 0,
        };
        self.written += entries.len() as u64;
        SimTable {
            meta: Arc::new(meta),
            entries,
        }
    }

    fn view(&self) -> View {
        View::new(Levels::from_files(self.levels.iter().enumerate().flat_map(
            |(level, tables)| tables.iter().map(move |t| (level, t.meta.clone())),
        )))
    }

    fn take(&mut self, level: usize, number: u64) -> SimTable {
        let i = self.levels[level]
            .iter()
            .position(|t| t.meta.number == number)
            .expect("the picker chose a live table");
        self.levels[level].swap_remove(i)
    }

    fn apply(&mut self, choice: Choice) {
        match choice {
            Choice::Nothing => {}
            Choice::Move { file, from } => {
                let t = self.take(from, file.number);
                self.levels[from + 1].push(t);
            }
            Choice::Drop { files } => {
                for (level, f) in files {
                    self.take(level, f.number);
                }
            }
            Choice::Merge {
                inputs,
                output_level,
                ..
            } => {
                self.compactions += 1;
                let mut newest: BTreeMap<u32, u64> = BTreeMap::new();
                for (level, files) in &inputs {
                    for f in files {
                        for (k, seq) in self.take(*level, f.number).entries {
                            let e = newest.entry(k).or_insert(seq);
                            *e = (*e).max(seq);
                        }
                    }
                }
                let all: Vec<(u32, u64)> = newest.into_iter().collect();
                // As in the engine: a merge into level 0 makes one table (one sorted run).
                let per_table = if output_level == 0 {
                    all.len()
                } else {
                    self.table_entries
                };
                for chunk in all.chunks(per_table.max(1)) {
                    let t = self.table(chunk.to_vec());
                    self.levels[output_level].push(t);
                }
            }
        }
    }

    /// Tables a lookup of `k` must consult at worst: every level-0 table whose range holds
    /// it, and one table per deeper level that holds it.
    fn probes(&self, k: u32) -> usize {
        let key = key(k);
        let holds = |t: &SimTable| t.meta.overlaps(&key, &key);
        self.levels[0].iter().filter(|t| holds(t)).count()
            + self.levels[1..]
                .iter()
                .filter(|l| l.iter().any(holds))
                .count()
    }

    fn entries_on_disk(&self) -> u64 {
        self.levels.iter().flatten().map(|t| t.meta.entries).sum()
    }
}

struct Outcome {
    name: &'static str,
    write_amp: f64,
    space_amp_end: f64,
    space_amp_max: f64,
    read_amp_avg: f64,
    read_amp_end: f64,
    max_l0: usize,
    compactions: u64,
    tables: usize,
}

fn simulate(name: &'static str, strategy: &dyn Strategy, args: &SimArgs) -> Outcome {
    let mut options = CompactionOptions::default();
    options.level1_target_bytes = 10 * args.memtable as u64 * args.entry_bytes;
    options.target_file_size = args.table as u64 * args.entry_bytes;
    let mut sim = Sim {
        levels: (0..NUM_LEVELS).map(|_| Vec::new()).collect(),
        next_number: 0,
        entry_bytes: args.entry_bytes,
        table_entries: args.table,
        written: 0,
        compactions: 0,
    };
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let mut live = vec![false; args.keys as usize];
    let mut n_live = 0u64;
    let mut space_amp_max = 0f64;
    let mut memtable: Vec<(u32, u64)> = Vec::with_capacity(args.memtable);
    let (mut read_sum, mut read_samples, mut max_l0) = (0usize, 0usize, 0usize);
    for seq in 1..=args.writes {
        let k = rng.random_range(0..args.keys);
        if !live[k as usize] {
            live[k as usize] = true;
            n_live += 1;
        }
        memtable.push((k, seq));
        if memtable.len() == args.memtable || seq == args.writes {
            memtable.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let t = sim.table(std::mem::take(&mut memtable));
            sim.levels[0].push(t);
            max_l0 = max_l0.max(sim.levels[0].len());
            loop {
                let choice = strategy.choose(&sim.view(), &options);
                if choice == Choice::Nothing {
                    break;
                }
                if std::env::var("SIM_DEBUG").is_ok() {
                    eprintln!("{name} seq {seq}: {}", describe(&choice));
                }
                sim.apply(choice);
            }
            // Space amplification swings between merges (a tiered strategy holds dead
            // versions until its next big merge), so the end of the run alone says little
            // about its bound: keep the worst, once each flush's compactions are done.
            space_amp_max = space_amp_max.max(sim.entries_on_disk() as f64 / n_live as f64);
            for _ in 0..100 {
                read_sum += sim.probes(rng.random_range(0..args.keys));
                read_samples += 1;
            }
        }
    }
    let end_samples = 10_000;
    let end: usize = (0..end_samples)
        .map(|_| sim.probes(rng.random_range(0..args.keys)))
        .sum();
    Outcome {
        name,
        write_amp: sim.written as f64 / args.writes as f64,
        space_amp_end: sim.entries_on_disk() as f64 / n_live as f64,
        space_amp_max,
        read_amp_avg: read_sum as f64 / read_samples.max(1) as f64,
        read_amp_end: end as f64 / end_samples as f64,
        max_l0,
        compactions: sim.compactions,
        tables: sim.levels.iter().map(Vec::len).sum(),
    }
}

fn describe(choice: &Choice) -> String {
    match choice {
        Choice::Nothing => "nothing".into(),
        Choice::Move { file, from } => format!("move {} from L{from}", file.number),
        Choice::Drop { files } => format!("drop {}", files.len()),
        Choice::Merge {
            inputs,
            output_level,
            reason,
        } => format!(
            "merge {:?} -> L{output_level} ({reason:?})",
            inputs
                .iter()
                .map(|(l, f)| (*l, f.len()))
                .collect::<Vec<_>>()
        ),
    }
}

pub(crate) fn run(args: &SimArgs) -> Result<()> {
    let mut tiered = Tiered::default();
    if let Some(n) = args.tiered_max_runs {
        tiered.max_runs = n;
    }
    println!(
        "compaction simulator: {} random overwrites of {} keys, {}-entry memtables, {}-entry output tables, tiered max runs {} (seed {})",
        args.writes, args.keys, args.memtable, args.table, tiered.max_runs, args.seed
    );
    let outcomes = [
        simulate("leveled", &Leveled, args),
        simulate("tiered", &tiered, args),
    ];
    println!(
        "{:<9} {:>9} {:>13} {:>13} {:>13} {:>13} {:>7} {:>11} {:>7}",
        "strategy",
        "write amp",
        "space amp end",
        "space amp max",
        "read amp avg",
        "read amp end",
        "max L0",
        "compactions",
        "tables"
    );
    for o in &outcomes {
        println!(
            "{:<9} {:>9.2} {:>13.2} {:>13.2} {:>13.2} {:>13.2} {:>7} {:>11} {:>7}",
            o.name,
            o.write_amp,
            o.space_amp_end,
            o.space_amp_max,
            o.read_amp_avg,
            o.read_amp_end,
            o.max_l0,
            o.compactions,
            o.tables
        );
    }
    println!(
        "write amp: entries written to tables (flushes and compactions) per user write; no WAL"
    );
    println!(
        "space amp: entries on disk per live key, at the end and at worst (after each flush's compactions)"
    );
    println!(
        "read amp: tables a point lookup may have to consult (level-0 tables holding the key, plus one per deeper level)"
    );
    Ok(())
}
