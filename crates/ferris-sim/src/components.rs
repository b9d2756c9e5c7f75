//! Which implementation of each swappable part a run plugs into the engine: the memtable,
//! the table format and the compaction strategy (see [`Components`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use ferris_engine::{MemtableFactory, Options, Strategy, TableFormat};

/// The table cap FIFO compaction runs with here: 1 TiB, which no workload of the
/// simulation or the crash loop comes near.
///
/// FIFO's whole purpose is to throw the oldest tables away once they weigh more than its
/// cap. The harnesses' models expect every acknowledged write to stay, so a dropped
/// table would show up as a lost write that is no bug at all. With a cap nothing
/// reaches, FIFO never drops, and what remains is what the run is for: a strategy that
/// merges nothing, so every flushed table stays in level 0, overlapping all the others,
/// and reads, recovery and power cuts must cope with a level 0 of dozens of tables that
/// never shrinks. A seed of `ferris-sim` or a run of the crash loop keeps nowhere near a
/// tebibyte of tables. Dropping is tested where a model knows what to expect:
/// `ferris-fifo`'s own tests and `ferris-engine`'s `tests/it/swap.rs`.
pub const FIFO_CAP: u64 = 1 << 40;

/// Which implementation of each swappable part of the engine a run uses, in place of the
/// one the harness would choose itself. `Components::default()` changes nothing: the
/// skip-list memtable, sorted tables, and the harness's own strategy (in `ferris-sim`
/// the one each seed draws, leveled or tiered; in `ferris-crash` leveled).
///
/// A run with components is otherwise the same run: in `ferris-sim`, a seed generates the
/// same [`Workload`](crate::Workload) (settings, operations and cuts) whatever the
/// components, so seed 1234 with the B-tree memtable is seed 1234's workload on another
/// memtable. The components travel in the [`SimConfig`](crate::SimConfig), and a
/// failure's replay command names them.
///
/// [`Components::second_implementations`] lists the swaps CI runs: each part replaced by
/// its second implementation, one at a time.
///
/// # Adding your own
///
/// To run the simulation and the crash loop with a memtable, table format or strategy of
/// your own, add a variant to [`MemtableKind`], [`TableFormatKind`] or
/// [`CompactionStrategy`], with its name in `NAMES` and what it builds in `build`.
/// `cargo xtask sim --memtable yours` and `cargo xtask crash-test --memtable yours` then
/// run it, and a test like the ones in `tests/it/campaign.rs` keeps it running in CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Components {
    /// The memtable.
    pub memtable: MemtableKind,
    /// The table format.
    pub table_format: TableFormatKind,
    /// The compaction strategy, or `None` for the harness's own choice.
    pub strategy: Option<CompactionStrategy>,
}

impl Components {
    /// These components with the memtable replaced.
    pub fn with_memtable(self, memtable: MemtableKind) -> Components {
        Components { memtable, ..self }
    }

    /// These components with the table format replaced.
    pub fn with_table_format(self, table_format: TableFormatKind) -> Components {
        Components {
            table_format,
            ..self
        }
    }

    /// These components with the strategy replaced.
    pub fn with_strategy(self, strategy: CompactionStrategy) -> Components {
        Components {
            strategy: Some(strategy),
            ..self
        }
    }

    /// The defaults with one part replaced by its second implementation, for each part:
    /// the B-tree memtable, the minitable format, and FIFO compaction. CI runs the
    /// simulation and the crash loop with each.
    pub fn second_implementations() -> [Components; 3] {
        let defaults = Components::default();
        [
            defaults.with_memtable(MemtableKind::BTree),
            defaults.with_table_format(TableFormatKind::Minitable),
            defaults.with_strategy(CompactionStrategy::Fifo),
        ]
    }

    /// Whether these are the defaults, which change nothing.
    pub fn is_default(&self) -> bool {
        *self == Components::default()
    }

    /// Plugs these components into `options`; a `None` strategy leaves the one there.
    pub fn apply(&self, options: &mut Options) {
        options.memtable = self.memtable.build();
        options.table_format = self.table_format.build();
        if let Some(strategy) = self.strategy {
            options.compaction_strategy = strategy.build();
        }
    }

    /// The command-line flags that choose these components (`--memtable btree`,
    /// `--table-format minitable`, `--strategy fifo`), only for the parts that differ from
    /// the defaults: `cargo xtask sim` and `cargo xtask crash-test` take them, and so does
    /// the crash loop's child. Empty for the defaults. [`Components::parse_flag`] reads
    /// them back.
    pub fn to_args(&self) -> Vec<String> {
        let defaults = Components::default();
        let mut args = Vec::new();
        if self.memtable != defaults.memtable {
            args.extend(["--memtable".to_string(), self.memtable.to_string()]);
        }
        if self.table_format != defaults.table_format {
            args.extend(["--table-format".to_string(), self.table_format.to_string()]);
        }
        if let Some(strategy) = self.strategy {
            args.extend(["--strategy".to_string(), strategy.to_string()]);
        }
        args
    }

    /// Takes one flag of [`Components::to_args`] with its value: `Ok(true)` if `flag` is
    /// one of them, `Ok(false)` if it is some other flag (left for the caller).
    ///
    /// # Errors
    ///
    /// A message naming the choices, when `value` names no implementation of the part.
    pub fn parse_flag(&mut self, flag: &str, value: &str) -> Result<bool, UnknownComponent> {
        match flag {
            "--memtable" => self.memtable = value.parse()?,
            "--table-format" => self.table_format = value.parse()?,
            "--strategy" => self.strategy = Some(value.parse()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl fmt::Display for Components {
    /// `memtable skiplist, table format sstable, strategy default`: the strategy's
    /// `default` is the harness's own choice.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memtable {}, table format {}, strategy ",
            self.memtable, self.table_format
        )?;
        match self.strategy {
            Some(strategy) => write!(f, "{strategy}"),
            None => f.write_str("default"),
        }
    }
}

/// A name that is no implementation of a part: see [`Components::parse_flag`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {part} `{name}`: expected one of {}", choices.join(", "))]
#[non_exhaustive]
pub struct UnknownComponent {
    /// The part: `memtable`, `table format` or `compaction strategy`.
    pub part: &'static str,
    /// The name given.
    pub name: String,
    /// The names known.
    pub choices: Vec<&'static str>,
}

/// One part's implementations, each with a name for command lines. The three enums below
/// share this, so naming, parsing and printing are written once.
trait Named: Copy + PartialEq + 'static {
    /// What the part is called in messages.
    const PART: &'static str;
    /// Every implementation, with its name.
    const NAMES: &'static [(Self, &'static str)];

    /// # Panics
    ///
    /// If `self` is missing from `NAMES`: a bug, which the unit tests catch.
    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(kind, _)| *kind == self)
            .map(|(_, name)| *name)
            .expect("every variant is listed in NAMES")
    }

    fn parse_name(name: &str) -> Result<Self, UnknownComponent> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(kind, _)| *kind)
            .ok_or_else(|| UnknownComponent {
                part: Self::PART,
                name: name.to_string(),
                choices: Self::NAMES.iter().map(|(_, n)| *n).collect(),
            })
    }
}

/// `Display` and `FromStr` by [`Named`]'s names.
macro_rules! named {
    ($kind:ty) => {
        impl fmt::Display for $kind {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $kind {
            type Err = UnknownComponent;

            fn from_str(name: &str) -> Result<Self, UnknownComponent> {
                Self::parse_name(name)
            }
        }
    };
}

/// The memtables a run can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MemtableKind {
    /// `skiplist`: [`ferris_memtable::SkipListFactory`], the engine's default.
    #[default]
    SkipList,
    /// `btree`: [`ferris_memtable::BTreeFactory`], a `BTreeMap` behind a lock.
    BTree,
}

impl Named for MemtableKind {
    const PART: &'static str = "memtable";
    const NAMES: &'static [(Self, &'static str)] = &[
        (MemtableKind::SkipList, "skiplist"),
        (MemtableKind::BTree, "btree"),
    ];
}

named!(MemtableKind);

impl MemtableKind {
    /// The factory to put in [`Options::memtable`].
    pub fn build(self) -> Arc<dyn MemtableFactory> {
        match self {
            MemtableKind::SkipList => Arc::new(ferris_memtable::SkipListFactory),
            MemtableKind::BTree => Arc::new(ferris_memtable::BTreeFactory),
        }
    }
}

/// The table formats a run can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TableFormatKind {
    /// `sstable`: [`ferris_sstable::SstableFormat`], the engine's default.
    #[default]
    Sstable,
    /// `minitable`: [`ferris_minitable::MinitableFormat`], the smallest format that keeps
    /// the contract (no filters, no compression).
    Minitable,
}

impl Named for TableFormatKind {
    const PART: &'static str = "table format";
    const NAMES: &'static [(Self, &'static str)] = &[
        (TableFormatKind::Sstable, "sstable"),
        (TableFormatKind::Minitable, "minitable"),
    ];
}

named!(TableFormatKind);

impl TableFormatKind {
    /// The format to put in [`Options::table_format`].
    pub fn build(self) -> Arc<dyn TableFormat> {
        match self {
            TableFormatKind::Sstable => Arc::new(ferris_sstable::SstableFormat),
            TableFormatKind::Minitable => Arc::new(ferris_minitable::MinitableFormat),
        }
    }
}

/// The compaction strategies a run can use. A `ferris-sim` seed draws leveled or tiered
/// itself ([`Setup::strategy`](crate::Setup::strategy)); [`Components::strategy`]
/// replaces that draw for every seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompactionStrategy {
    /// `leveled`: [`ferris_compaction::Leveled`].
    Leveled,
    /// `tiered`: [`ferris_compaction::Tiered`], default settings.
    Tiered,
    /// `fifo`: [`ferris_fifo::Fifo`] with a cap of [`FIFO_CAP`], which no run reaches (see
    /// there why): it merges nothing and drops nothing.
    Fifo,
}

impl Named for CompactionStrategy {
    const PART: &'static str = "compaction strategy";
    const NAMES: &'static [(Self, &'static str)] = &[
        (CompactionStrategy::Leveled, "leveled"),
        (CompactionStrategy::Tiered, "tiered"),
        (CompactionStrategy::Fifo, "fifo"),
    ];
}

named!(CompactionStrategy);

impl CompactionStrategy {
    /// The strategy to put in [`Options::compaction_strategy`].
    pub fn build(self) -> Arc<dyn Strategy> {
        match self {
            CompactionStrategy::Leveled => Arc::new(ferris_compaction::Leveled),
            CompactionStrategy::Tiered => Arc::new(ferris_compaction::Tiered::default()),
            CompactionStrategy::Fifo => Arc::new(ferris_fifo::Fifo::new(FIFO_CAP)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_and_name_only_what_differs() {
        assert!(Components::default().to_args().is_empty());
        let mut all = vec![Components::default()];
        all.extend(Components::second_implementations());
        all.push(
            Components::default()
                .with_memtable(MemtableKind::BTree)
                .with_table_format(TableFormatKind::Minitable)
                .with_strategy(CompactionStrategy::Tiered),
        );
        for components in all {
            let args = components.to_args();
            let mut parsed = Components::default();
            for pair in args.chunks(2) {
                assert_eq!(parsed.parse_flag(&pair[0], &pair[1]), Ok(true), "{args:?}");
            }
            assert_eq!(parsed, components, "{args:?}");
        }
        assert_eq!(
            Components::default()
                .with_strategy(CompactionStrategy::Fifo)
                .to_args(),
            ["--strategy", "fifo"]
        );
    }

    #[test]
    fn unknown_names_and_flags() {
        let mut c = Components::default();
        assert_eq!(c.parse_flag("--seed", "1"), Ok(false));
        let e = c.parse_flag("--memtable", "art").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown memtable `art`: expected one of skiplist, btree"
        );
        assert!(c.parse_flag("--strategy", "default").is_err());
        assert_eq!(c, Components::default(), "a failed parse changes nothing");
        assert_eq!("BTree".parse(), Ok(MemtableKind::BTree));
    }

    /// Every variant is in its `NAMES` (printing one that is not would panic), and every
    /// name parses back to its variant.
    #[test]
    fn every_implementation_has_a_name() {
        fn round_trip<K: Named + FromStr<Err = UnknownComponent> + fmt::Debug>(all: &[K]) {
            for &kind in all {
                assert_eq!(kind.name().parse::<K>(), Ok(kind));
            }
        }
        round_trip(&[MemtableKind::SkipList, MemtableKind::BTree]);
        round_trip(&[TableFormatKind::Sstable, TableFormatKind::Minitable]);
        round_trip(&[
            CompactionStrategy::Leveled,
            CompactionStrategy::Tiered,
            CompactionStrategy::Fifo,
        ]);
    }

    #[test]
    fn components_print_and_plug_in() {
        let fifo = Components::default().with_strategy(CompactionStrategy::Fifo);
        assert_eq!(
            Components::default().to_string(),
            "memtable skiplist, table format sstable, strategy default"
        );
        assert_eq!(
            fifo.to_string(),
            "memtable skiplist, table format sstable, strategy fifo"
        );
        let mini = Components::default().with_table_format(TableFormatKind::Minitable);
        let mut options = Options::default();
        mini.apply(&mut options);
        assert_eq!(options.table_format.name(), "minitable");
        assert!(!mini.is_default() && Components::default().is_default());
    }
}
