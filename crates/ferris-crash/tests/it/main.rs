//! Integration tests of the crash loop: the real child binary, really killed.

mod crash_loop;

use std::path::Path;

/// The child binary Cargo built for these tests.
fn child_exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ferris-crash-child"))
}

/// The seed for a random test: `FERRIS_CRASH_SEED` if set (to replay a failure), else a
/// fixed one, so CI is repeatable as far as the scheduler allows. Printed either way.
fn seed() -> u64 {
    let seed = std::env::var("FERRIS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0de);
    eprintln!("seed {seed} (replay with FERRIS_CRASH_SEED={seed})");
    seed
}
