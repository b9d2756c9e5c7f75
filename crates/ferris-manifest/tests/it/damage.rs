//! Damage to a manifest is found: a flipped bit anywhere is either a typed corruption
//! error or lands in the torn last record, never a wrong state.

use std::path::Path;

use ferris_manifest::{Error, LevelState, ManifestWriter, manifest_file_name, replay};

use crate::{DIR, flush_edit, sim};

#[test]
fn every_bit_flip_is_detected_or_only_drops_the_last_edit() {
    let (_sim, fs) = sim(1);
    let dir = Path::new(DIR);
    let mut state = LevelState::default();
    let mut manifest = ManifestWriter::create(&fs, dir, 1, &state.snapshot()).unwrap();
    let mut states = vec![state.clone()];
    for n in 2..6 {
        manifest.append(&flush_edit(n)).unwrap();
        state.apply(&flush_edit(n)).unwrap();
        states.push(state.clone());
    }
    drop(manifest);
    let path = dir.join(manifest_file_name(1));
    let original = fs
        .open(&path)
        .unwrap()
        .read_vec(0, fs.open(&path).unwrap().len())
        .unwrap();
    let (good, _) = (replay(&*fs, dir, 1).unwrap(), ());
    assert_eq!(good.state, state);
    let (mut detected, mut torn) = (0, 0);
    for bit in 0..original.len() * 8 {
        let mut bad = original.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let (_s, fs) = sim(2);
        let mut f = fs.create(&path).unwrap();
        f.append(&bad).unwrap();
        f.sync().unwrap();
        match replay(&*fs, dir, 1) {
            Err(e) => {
                assert!(
                    e.is_corruption() || matches!(e, Error::UnsupportedVersion(_)),
                    "bit {bit}: {e}"
                );
                detected += 1;
            }
            Ok(r) => {
                // Only the last record can be dropped as a torn tail, and then the state
                // is the one before it.
                assert_eq!(r.state, states[states.len() - 2], "bit {bit}");
                torn += 1;
            }
        }
    }
    assert!(detected > 0 && detected + torn == original.len() * 8);
}
