//! Encoding a block.

use ferris_core::coding::put_varint64;

/// Builds one block from entries added in sorted order.
#[derive(Debug, Clone)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    /// Entries since the last restart point.
    since_restart: usize,
    last_key: Vec<u8>,
    n_entries: usize,
}

impl BlockBuilder {
    /// A builder that stores a whole key every `restart_interval` entries.
    ///
    /// # Panics
    ///
    /// Panics if `restart_interval` is zero.
    pub fn new(restart_interval: usize) -> BlockBuilder {
        assert!(
            restart_interval > 0,
            "the restart interval must be at least 1"
        );
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            restart_interval,
            since_restart: 0,
            last_key: Vec::new(),
            n_entries: 0,
        }
    }

    /// Appends an entry. Keys must be added in increasing order; the table writer checks
    /// that and reports a typed error before calling this.
    ///
    /// # Panics
    ///
    /// Panics if the block would grow past 4 GiB, which no table writer lets happen.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.since_restart == self.restart_interval {
            self.restarts
                .push(u32::try_from(self.buf.len()).expect("a block stays under 4 GiB"));
            self.since_restart = 0;
            0
        } else {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        put_varint64(&mut self.buf, shared as u64);
        put_varint64(&mut self.buf, (key.len() - shared) as u64);
        put_varint64(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(&key[shared..]);
        self.since_restart += 1;
        self.n_entries += 1;
    }

    /// The size the finished block would have now.
    pub fn estimated_size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// The number of entries added.
    pub fn len(&self) -> usize {
        self.n_entries
    }

    /// True when nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.n_entries == 0
    }

    /// The last key added (empty if none).
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Appends the restart array and returns the encoded block, leaving the builder empty
    /// and ready for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        let n_restarts = u32::try_from(self.restarts.len()).expect("a block stays under 4 GiB");
        out.extend_from_slice(&n_restarts.to_le_bytes());
        self.restarts.clear();
        self.restarts.push(0);
        self.since_restart = 0;
        self.last_key.clear();
        self.n_entries = 0;
        out
    }
}
