//! Any bytes as the manifest's inputs: CURRENT, a version edit, a whole manifest file, and
//! a list of records in valid framing (so the checksums pass and the edit decoder and
//! `LevelState::apply` see the bytes). Nothing may panic, and replay fails only with a
//! typed corruption or version error.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use ferris_fs::{FileSystem, SimFs};
use ferris_manifest::{Error, VersionEdit, decode_current, manifest_file_name, replay};
use ferris_log::format::{SEGMENT_HEADER_LEN, encode_segment_header, frame_record};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fn replay_bytes(bytes: &[u8]) {
    let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(0));
    let dir = Path::new("/db");
    fs.create_dir_all(dir).unwrap();
    let mut file = fs.create(&dir.join(manifest_file_name(1))).unwrap();
    file.append(bytes).unwrap();
    match replay(&*fs, dir, 1) {
        Ok(_) => {}
        Err(e) if e.is_corruption() => {}
        Err(Error::UnsupportedVersion(_)) => {}
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = decode_current(Path::new("CURRENT"), data);
    let _ = VersionEdit::decode(data);
    replay_bytes(data);

    // The same bytes cut into records and framed correctly.
    let mut u = Unstructured::new(data);
    let records: Vec<Vec<u8>> = u.arbitrary().unwrap_or_default();
    let mut framed = encode_segment_header(1, ferris_manifest::FORMAT_VERSION).to_vec();
    let mut block_offset = SEGMENT_HEADER_LEN;
    for record in &records {
        let _ = VersionEdit::decode(record);
        frame_record(&mut framed, &mut block_offset, record);
    }
    replay_bytes(&framed);
});
