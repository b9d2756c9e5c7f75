//! A power cut at every operation of a workload that appends edits and rotates the
//! manifest: CURRENT always names a manifest that replays, and every edit whose append
//! returned is in the state it replays to.

use std::path::Path;

use ferris_manifest::{LevelState, ManifestWriter, read_current, replay, write_current};

use crate::{DIR, flush_edit, sim};

/// Appends edits for tables 2..=13, starting a new manifest after every fourth, the way the
/// engine rotates. Returns the state as of the last acknowledged step.
fn workload(
    fs: &std::sync::Arc<dyn ferris_fs::FileSystem>,
    acked: &mut LevelState,
) -> ferris_manifest::Result<()> {
    let dir = Path::new(DIR);
    let mut state = LevelState::default();
    let mut manifest = ManifestWriter::create(fs, dir, 1, &state.snapshot())?;
    write_current(&**fs, dir, 1)?;
    *acked = state.clone();
    let mut next_manifest = 100;
    for number in 2..=13 {
        let edit = flush_edit(number);
        manifest.append(&edit)?;
        state.apply(&edit).unwrap();
        *acked = state.clone();
        if number % 4 == 0 {
            let old = manifest.number();
            manifest = ManifestWriter::create(fs, dir, next_manifest, &state.snapshot())?;
            write_current(&**fs, dir, next_manifest)?;
            next_manifest += 1;
            let path = dir.join(ferris_manifest::manifest_file_name(old));
            fs.remove(&path)
                .map_err(|e| ferris_manifest::Error::io(path, e))?;
        }
    }
    Ok(())
}

#[test]
fn every_acknowledged_edit_survives_a_power_cut_at_any_operation() {
    let (probe, fs) = sim(0);
    let mut acked = LevelState::default();
    workload(&fs, &mut acked).unwrap();
    let total = probe.op_count();
    for cut in 0..total {
        for seed in 0..3 {
            let (sim, fs) = sim(cut * 7 + seed);
            let base = sim.op_count();
            sim.cut_power_after(cut);
            let mut acked = LevelState::default();
            let result = workload(&fs, &mut acked);
            assert!(result.is_err() || sim.op_count() - base <= cut, "cut {cut}");
            sim.restart();
            let dir = Path::new(DIR);
            let Some(number) = read_current(&*fs, dir).unwrap() else {
                // The cut came before the first CURRENT was durable: nothing was acknowledged.
                assert_eq!(acked, LevelState::default(), "cut {cut} seed {seed}");
                continue;
            };
            let replayed =
                replay(&*fs, dir, number).unwrap_or_else(|e| panic!("cut {cut} seed {seed}: {e}"));
            // Everything acknowledged is there; at most the one edit in flight is extra.
            for n in acked.live_files() {
                assert!(
                    replayed.state.live_files().any(|m| m == n),
                    "cut {cut} seed {seed}: table {n} lost"
                );
            }
            let level0 = |s: &LevelState| s.default_keyspace().levels.level(0).len();
            assert!(level0(&replayed.state) <= level0(&acked) + 1);
            assert!(replayed.state.last_sequence >= acked.last_sequence);
        }
    }
}
