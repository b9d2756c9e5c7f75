//! The flags that plug a second implementation of a part into the engine, shared by
//! `cargo xtask sim` and `cargo xtask crash-test`: `--memtable`, `--table-format` and
//! `--strategy`, read into a [`ferris_sim::Components`].

use clap::Args;
use ferris_sim::{CompactionStrategy, Components, MemtableKind, TableFormatKind};

/// The component flags (clap flattens them into each command's own).
#[derive(Args, Debug)]
pub(crate) struct ComponentArgs {
    /// The memtable to plug in: `skiplist` (the default) or `btree`.
    #[arg(long, default_value_t = MemtableKind::default())]
    memtable: MemtableKind,
    /// The table format to plug in: `sstable` (the default) or `minitable`.
    #[arg(long, default_value_t = TableFormatKind::default())]
    table_format: TableFormatKind,
    /// The compaction strategy to plug in: `leveled`, `tiered` or `fifo` (default: the
    /// harness's own; in `sim` each seed draws leveled or tiered, in `crash-test` leveled).
    #[arg(long)]
    strategy: Option<CompactionStrategy>,
}

impl ComponentArgs {
    /// The components these flags choose.
    pub(crate) fn components(&self) -> Components {
        let components = Components::default()
            .with_memtable(self.memtable)
            .with_table_format(self.table_format);
        match self.strategy {
            Some(strategy) => components.with_strategy(strategy),
            None => components,
        }
    }

    /// Prints the components these flags choose, on one line: `own_strategy` says which
    /// strategy the harness uses when `--strategy` is not given.
    pub(crate) fn print(&self, own_strategy: &str) {
        let components = self.components();
        match components.strategy {
            Some(_) => println!("components: {components}"),
            None => println!("components: {components} ({own_strategy})"),
        }
    }
}
