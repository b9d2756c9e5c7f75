//! Tidy checks: facts stated both in `docs/` and in code must agree.
//!
//! Run by `cargo test --workspace` (they are tests of this crate). Today: every format spec
//! names its magic number and format version, and those must be the constants the code
//! writes. A spec that describes several formats (`manifest.md`: the log framing it
//! shares with the WAL, the version edits and CURRENT) is checked section by section. The version a spec's title
//! announces (`# Table file format, version 1`) and the one `docs/README.md`'s list of
//! formats gives for it must be that constant too.

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

    /// The part of a spec under `heading` (a whole line, such as `## CURRENT`), up to the
    /// next heading of the same or a higher level. For specs that describe more than one
    /// format, and so have more than one `magic` or `format version` row.
    fn section<'a>(spec: &'a str, heading: &str) -> &'a str {
        let hashes = |line: &str| line.len() - line.trim_start_matches('#').len();
        let level = hashes(heading);
        let start = spec
            .find(&format!("\n{heading}\n"))
            .unwrap_or_else(|| panic!("no section {heading:?}"))
            + heading.len()
            + 2;
        let rest = &spec[start..];
        let end = rest
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .find(|&i| {
                let line = &rest[i..];
                let h = hashes(line);
                (1..=level).contains(&h) && line[h..].starts_with(' ')
            })
            .unwrap_or(rest.len());
        &rest[..end]
    }

    /// The version in a spec's title, as in `# Table file format, version 1`.
    fn title_version(spec: &str) -> u32 {
        let title = spec.lines().next().expect("a title line");
        assert!(
            title.starts_with("# "),
            "the first line is not a title: {title:?}"
        );
        title
            .rsplit_once("version ")
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("the title {title:?} does not end with \"version N\""))
    }

    /// The version `docs/README.md`'s list of formats gives for `format/<name>`, as in
    /// ``- [`format/wal.md`](format/wal.md): WAL segment files, version 1.``.
    fn readme_version(name: &str) -> u32 {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/README.md");
        let readme = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let link = format!("](format/{name})");
        let line = readme
            .lines()
            .find(|l| l.starts_with("- ") && l.contains(&link))
            .unwrap_or_else(|| panic!("docs/README.md lists no format/{name}"));
        line.rsplit_once("version ")
            .and_then(|(_, v)| v.trim_end_matches('.').trim().parse().ok())
            .unwrap_or_else(|| panic!("docs/README.md's line {line:?} names no version"))
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

    /// The newest number in the first column of the tables of `section`.
    fn newest_in_first_column(section: &str) -> u32 {
        section
            .lines()
            .filter_map(|l| l.split('|').nth(1)?.trim().parse::<u32>().ok())
            .max()
            .expect("a table numbered in its first column")
    }

    /// `wal.md` specifies the framing (`ferris-log`), which the WAL's segments and the
    /// manifest share, and the WAL's use of it: the record format its headers declare.
    #[test]
    fn wal_spec_matches_the_code() {
        use ferris_log::format::{FIRST_RECORD_FORMAT, FORMAT_VERSION, MAGIC};
        use ferris_wal::format::{OLDEST_RECORD_FORMAT, RECORD_FORMAT};
        let s = spec("wal.md");
        assert_eq!(magic(&s), MAGIC);
        assert_eq!(version(&s), FORMAT_VERSION);
        assert_eq!(newest_history_version(&s), FORMAT_VERSION);
        assert_eq!(title_version(&s), FORMAT_VERSION);
        assert_eq!(readme_version("wal.md"), FORMAT_VERSION);
        // The header's record format field, and the WAL's record formats: the newest is
        // the one it writes, the oldest the first there was.
        assert!(s.contains("| 24 | 4 | record format |"));
        let formats = section(&s, "### Record formats");
        assert_eq!(newest_in_first_column(formats), RECORD_FORMAT);
        assert!(formats.contains(&format!(
            "The WAL writes record format `{RECORD_FORMAT}` (`ferris_wal::format::RECORD_FORMAT`)"
        )));
        assert_eq!(OLDEST_RECORD_FORMAT, FIRST_RECORD_FORMAT);
        assert!(formats.contains(&format!("| {FIRST_RECORD_FORMAT} | write batches whose")));
        assert_eq!(ferris_log::MAX_RECORD_LEN, 1 << 30);
        assert!(s.contains("A record is at most 1 GiB (`MAX_RECORD_LEN`)"));
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
        assert_eq!(
            title_version(&s),
            ferris_sstable::table::format::FORMAT_VERSION
        );
        assert_eq!(
            readme_version("table.md"),
            ferris_sstable::table::format::FORMAT_VERSION
        );
    }

    #[test]
    fn minitable_spec_matches_the_code() {
        use ferris_minitable::format::{FORMAT_VERSION, MAGIC};
        let s = spec("minitable.md");
        assert_eq!(magic(&s), MAGIC);
        assert_eq!(version(&s), FORMAT_VERSION);
        assert_eq!(newest_history_version(&s), FORMAT_VERSION);
        assert_eq!(title_version(&s), FORMAT_VERSION);
        assert_eq!(readme_version("minitable.md"), FORMAT_VERSION);
        // The sizes the spec's tables state.
        let footer = section(&s, "### Footer (48 bytes)");
        assert!(footer.contains("| 40 | 8 | magic |"));
        assert_eq!(ferris_minitable::format::FOOTER_LEN, 48);
        assert!(s.contains("### Block trailer (4 bytes)"));
        assert_eq!(ferris_minitable::format::BLOCK_TRAILER_LEN, 4);
    }

    #[test]
    fn manifest_spec_matches_the_code() {
        let s = spec("manifest.md");
        // A manifest is framed exactly as a WAL segment, header included: ferris-log's
        // framing.
        let framing = section(&s, "### Segment header (32 bytes)");
        assert_eq!(magic(framing), ferris_log::format::MAGIC);
        // The manifest's version is its record format, which decides the header's framing
        // version: 1 while the manifest is format 1, the newest framing after.
        assert_eq!(
            version(framing),
            ferris_log::format::framing_version_for(ferris_manifest::FORMAT_VERSION)
        );
        // The manifest's own version is the one its first edit carries (tag 1).
        let edit = section(&s, "### Version edit");
        assert_eq!(version(edit), ferris_manifest::FORMAT_VERSION);
        assert_eq!(newest_history_version(&s), ferris_manifest::FORMAT_VERSION);
        let current = section(&s, "## CURRENT");
        assert_eq!(magic(current), ferris_manifest::CURRENT_MAGIC.as_bytes());
        assert_eq!(version(current), ferris_manifest::CURRENT_VERSION);
        // The manifest's version parted from CURRENT's (keyspaces, manifest version 2): the
        // title and docs/README.md name both, the manifest's first.
        let manifest_version = format!("manifest version {}", ferris_manifest::FORMAT_VERSION);
        assert!(s.lines().next().unwrap().contains(&manifest_version));
        assert_eq!(title_version(&s), ferris_manifest::CURRENT_VERSION);
        let readme = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/README.md"),
        )
        .unwrap();
        assert!(readme.contains(&format!("({manifest_version})")));
        assert_eq!(
            readme_version("manifest.md"),
            ferris_manifest::CURRENT_VERSION
        );
        // The limits the spec states.
        assert!(s.contains(&format!(
            "**Levels**: {} (`NUM_LEVELS`)",
            ferris_manifest::NUM_LEVELS
        )));
        assert_eq!(ferris_log::MAX_RECORD_LEN, 1 << 30);
        assert!(s.contains("at most 1 GiB (`MAX_RECORD_LEN`)"));
    }
}
