//! Tidy checks: facts stated both in `docs/` and in code must agree.
//!
//! Run by `cargo test --workspace` (they are tests of this crate). Today: every format spec
//! names its magic number and format version, and those must be the constants the code
//! writes.

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn spec(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/format")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    /// The value in the table row whose field column is `field`, with backticks removed.
    fn table_value(spec: &str, field: &str) -> String {
        let row = spec
            .lines()
            .find(|l| l.split('|').nth(3).is_some_and(|f| f.trim() == field))
            .unwrap_or_else(|| panic!("no table row for {field:?}"));
        row.split('|')
            .nth(4)
            .expect("a value column")
            .trim()
            .to_owned()
    }

    /// The ASCII magic a spec states, as in "ASCII `FRSDBWAL` (...)".
    fn magic(spec: &str) -> Vec<u8> {
        let value = table_value(spec, "magic");
        let quoted = value
            .split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("magic {value:?} is not quoted"));
        quoted.as_bytes().to_vec()
    }

    fn version(spec: &str) -> u32 {
        let value = table_value(spec, "format version");
        value
            .trim_matches('`')
            .parse()
            .unwrap_or_else(|e| panic!("format version {value:?}: {e}"))
    }

    /// The newest version listed in the spec's version history.
    fn newest_history_version(spec: &str) -> u32 {
        let history = spec
            .split("## Version history")
            .nth(1)
            .expect("a version history section");
        history
            .lines()
            .filter_map(|l| l.split('|').nth(1)?.trim().parse::<u32>().ok())
            .max()
            .expect("at least one version in the history")
    }

    #[test]
    fn wal_spec_matches_the_code() {
        let s = spec("wal.md");
        assert_eq!(magic(&s), ferris_wal::format::MAGIC);
        assert_eq!(version(&s), ferris_wal::format::FORMAT_VERSION);
        assert_eq!(
            newest_history_version(&s),
            ferris_wal::format::FORMAT_VERSION
        );
    }

    #[test]
    fn table_spec_matches_the_code() {
        let s = spec("table.md");
        assert_eq!(magic(&s), ferris_sstable::table::format::MAGIC);
        assert_eq!(version(&s), ferris_sstable::table::format::FORMAT_VERSION);
        assert_eq!(
            newest_history_version(&s),
            ferris_sstable::table::format::FORMAT_VERSION
        );
    }
}
