//! A cursor over a minitable: the sparse index picks a data block, the decoded block's
//! positions are walked both ways, and running off either end of a block loads its
//! neighbour.

use std::sync::Arc;

use bytes::Bytes;
use ferris_core::iter::InternalIterator;
use ferris_core::{Error, InternalKeyRef, Result};

use crate::format::Block;
use crate::reader::MinitableReader;

/// Which end of a block a step into it lands on.
#[derive(Clone, Copy)]
enum End {
    First,
    Last,
}

/// An [`InternalIterator`] over one minitable, keeping it open while it lives.
pub(crate) struct MinitableIter {
    table: Arc<MinitableReader>,
    fill_cache: bool,
    /// The block under the cursor and its number, `None` when not positioned. While
    /// `Some`, `at` is one of its entries.
    block: Option<(usize, Block)>,
    at: usize,
    /// The error that stopped the iterator: it stays invalid from then on.
    error: Option<Error>,
    /// The seek target, encoded.
    target: Vec<u8>,
}

impl MinitableIter {
    pub(crate) fn new(table: Arc<MinitableReader>, fill_cache: bool) -> MinitableIter {
        MinitableIter {
            table,
            fill_cache,
            block: None,
            at: 0,
            error: None,
            target: Vec::new(),
        }
    }

    fn current(&self) -> &Block {
        &self
            .block
            .as_ref()
            .expect("key or value of an iterator that is not valid")
            .1
    }

    /// Positions on entry `end` of block `block_idx`, or nowhere when there is no such
    /// block. The block in hand is reused rather than read again.
    fn enter(&mut self, block_idx: Option<usize>, end: End) {
        let Some(block_idx) = block_idx.filter(|&i| i < self.table.n_blocks()) else {
            self.block = None;
            return;
        };
        let block = match self.block.take() {
            Some((idx, block)) if idx == block_idx => block,
            _ => match self.table.data_block(block_idx, self.fill_cache) {
                Ok(block) => block,
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            },
        };
        self.at = match end {
            End::First => 0,
            End::Last => block.len() - 1,
        };
        self.block = Some((block_idx, block));
    }

    fn block_idx(&self) -> usize {
        self.block.as_ref().map_or(0, |(idx, _)| *idx)
    }

    /// Encodes `target` and returns the block that can hold the first entry at or after
    /// it (the number of blocks when none can).
    fn locate(&mut self, target: InternalKeyRef<'_>) -> usize {
        self.target.clear();
        target.encode_into(&mut self.target);
        self.table.block_for(&self.target)
    }

    /// Whether the iterator may move: not after an error, which it keeps.
    fn usable(&self) -> bool {
        self.error.is_none()
    }
}

impl InternalIterator for MinitableIter {
    fn valid(&self) -> bool {
        self.error.is_none() && self.block.is_some()
    }

    fn key(&self) -> InternalKeyRef<'_> {
        self.current().internal_key(self.at)
    }

    fn value(&self) -> Bytes {
        self.current().value(self.at)
    }

    fn seek_to_first(&mut self) {
        if self.usable() {
            self.enter(Some(0), End::First);
        }
    }

    fn seek_to_last(&mut self) {
        if self.usable() {
            self.enter(self.table.n_blocks().checked_sub(1), End::Last);
        }
    }

    fn seek(&mut self, target: InternalKeyRef<'_>) {
        if !self.usable() {
            return;
        }
        let block_idx = self.locate(target);
        self.enter(Some(block_idx), End::First);
        if let Some((_, block)) = &self.block {
            // The block's last key is at or after the target, so `at` is an entry.
            self.at = block.seek(&self.target);
        }
    }

    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        if !self.usable() {
            return;
        }
        let block_idx = self.locate(target);
        if block_idx == self.table.n_blocks() {
            // Every key sorts before the target: the answer is the very last entry.
            return self.seek_to_last();
        }
        self.enter(Some(block_idx), End::First);
        let Some((_, block)) = &self.block else {
            return;
        };
        match block.count_at_or_before(&self.target) {
            // The whole block is after the target: the previous block's last entry is
            // the last one at or before it.
            0 => self.enter(block_idx.checked_sub(1), End::Last),
            n => self.at = n - 1,
        }
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        if self.at + 1 < self.current().len() {
            self.at += 1;
        } else {
            self.enter(Some(self.block_idx() + 1), End::First);
        }
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if self.at > 0 {
            self.at -= 1;
        } else {
            self.enter(self.block_idx().checked_sub(1), End::Last);
        }
    }

    fn status(&self) -> Result<()> {
        self.error.clone().map_or(Ok(()), Err)
    }
}
