//! Any bytes as a block: decoding and every cursor movement must not panic, and a cursor
//! must terminate.
#![no_main]

use bytes::Bytes;
use ferris_sstable::block::Block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks a seek target length; the rest is the block.
    let Some((&n, block)) = data.split_first() else {
        return;
    };
    let target = &block[..usize::from(n).min(block.len())];
    let Ok(block) = Block::new(Bytes::copy_from_slice(block)) else {
        return;
    };
    let max_entries = block.size() / 3 + 1;
    let mut it = block.iter(|a, b| a.cmp(b));
    it.seek_to_first();
    let mut steps = 0;
    while it.valid() {
        let _ = (it.key(), it.value());
        it.next();
        steps += 1;
        assert!(steps <= max_entries, "forward walk did not terminate");
    }
    it.seek_to_last();
    steps = 0;
    while it.valid() {
        it.prev();
        steps += 1;
        assert!(steps <= max_entries, "backward walk did not terminate");
    }
    it.seek(target);
});
