//! Tidy checks: facts stated both in `docs/` and in code must agree.
//!
//! Run by `cargo test --workspace` (they are tests of this crate). Today: every format spec
//! names its magic number and format version, and those must be the constants the code
//! writes. A spec that describes several formats (`manifest.md`: the log framing it
//! shares with the WAL, the version edits and CURRENT) is checked section by section. The version a spec's title
//! announces (`# Table file format, version 1`) and the one `docs/README.md`'s list of
//! formats gives for it must be that constant too.
//!
//! Then every other number a spec or concept article quotes from the code (block and
//! footer sizes, restart intervals, the bloom filter's floor and bits per key, the WAL's
//! block size and reserve step, ...): `QUOTED` lists each one as the sentence
//! that states it and the `const` (or the field of a `Default` literal) that defines it.
//! The check reads the value from the source file itself, so a private constant is
//! checked as well as a public one, and a mismatch names the document, the file and both
//! values. The bloom filter's layout is also checked by reading a filter the way
//! `docs/format/table.md` says to, from the spec's formula alone.

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

    /// A number a document quotes and the code defines.
    struct Quoted {
        /// The document, relative to the repository root.
        doc: &'static str,
        /// The words that state it, `{}` where the figure stands. Whitespace in the
        /// document (line breaks included) counts as one space. A figure is a number,
        /// with `,` or `_` between digits if wanted, and an optional `KiB`, `MiB` or
        /// `GiB` after a space.
        says: &'static str,
        /// The source file that defines it, relative to the repository root.
        file: &'static str,
        /// The name of a `const` in `file`, or of the field a `Default` literal sets (a
        /// line `name: value,`), whose value must be the figure.
        name: &'static str,
    }

    const fn q(
        doc: &'static str,
        says: &'static str,
        file: &'static str,
        name: &'static str,
    ) -> Quoted {
        Quoted {
            doc,
            says,
            file,
            name,
        }
    }

    const TABLE: &str = "docs/format/table.md";
    const MINITABLE: &str = "docs/format/minitable.md";
    const WAL: &str = "docs/format/wal.md";
    const MANIFEST: &str = "docs/format/manifest.md";
    const SST_FORMAT: &str = "crates/ferris-sstable/src/table/format.rs";
    const SST_WRITER: &str = "crates/ferris-sstable/src/table/writer.rs";
    const SST_FILTER: &str = "crates/ferris-sstable/src/filter/mod.rs";
    const SST_BLOCK: &str = "crates/ferris-sstable/src/block/mod.rs";
    const MINI_FORMAT: &str = "crates/ferris-minitable/src/format.rs";
    const LOG_FORMAT: &str = "crates/ferris-log/src/format.rs";
    const SKIPLIST: &str = "crates/ferris-memtable/src/skiplist.rs";
    const SKIPLIST_NODES: &str = "crates/ferris-memtable/src/list.rs";

    /// Every number the specs and concept articles quote from the code.
    const QUOTED: &[Quoted] = &[
        // The default table format.
        q(
            TABLE,
            "### Block trailer ({} bytes)",
            SST_FORMAT,
            "BLOCK_TRAILER_LEN",
        ),
        q(TABLE, "### Footer ({} bytes)", SST_FORMAT, "FOOTER_LEN"),
        q(TABLE, "{} (`MAX_BLOCK_LEN`)", SST_FORMAT, "MAX_BLOCK_LEN"),
        q(
            TABLE,
            "a restart point every {} entries by default (`TableOptions::restart_interval`)",
            SST_BLOCK,
            "DEFAULT_RESTART_INTERVAL",
        ),
        q(
            TABLE,
            "closed once they reach {} (`TableOptions::block_size`)",
            SST_WRITER,
            "block_size",
        ),
        q(
            TABLE,
            "with a restart point every {} entries (earlier tables",
            SST_WRITER,
            "INDEX_RESTART_INTERVAL",
        ),
        q(
            TABLE,
            "gathered into writes of about {};",
            SST_WRITER,
            "WRITE_BUFFER_BYTES",
        ),
        q(
            TABLE,
            "the array for max({}, bits per key",
            SST_FILTER,
            "MIN_BITS",
        ),
        q(
            TABLE,
            "({} bits per key by default)",
            SST_FILTER,
            "DEFAULT_BITS_PER_KEY",
        ),
        q(
            TABLE,
            "`k` is 0 or above {} answers",
            SST_FILTER,
            "MAX_PROBES",
        ),
        // The minitable.
        q(
            MINITABLE,
            "### Block trailer ({} bytes)",
            MINI_FORMAT,
            "BLOCK_TRAILER_LEN",
        ),
        q(
            MINITABLE,
            "### Footer ({} bytes)",
            MINI_FORMAT,
            "FOOTER_LEN",
        ),
        q(
            MINITABLE,
            "the data block's handle ({} bytes)",
            MINI_FORMAT,
            "HANDLE_LEN",
        ),
        q(
            MINITABLE,
            "`TableOptions::block_size` ({} by default)",
            "crates/ferris-table/src/lib.rs",
            "block_size",
        ),
        q(
            MINITABLE,
            "of about {} (a block larger",
            "crates/ferris-minitable/src/builder.rs",
            "WRITE_BUFFER_BYTES",
        ),
        // The log framing and the WAL.
        q(WAL, "on a grid of {} blocks", LOG_FORMAT, "BLOCK_SIZE"),
        q(WAL, "**blocks** of {} bytes", LOG_FORMAT, "BLOCK_SIZE"),
        q(
            WAL,
            "### Header ({} bytes)",
            LOG_FORMAT,
            "SEGMENT_HEADER_LEN",
        ),
        q(
            WAL,
            "append the {}-byte header",
            LOG_FORMAT,
            "SEGMENT_HEADER_LEN",
        ),
        q(
            WAL,
            "fewer than {} bytes (a fragment header)",
            LOG_FORMAT,
            "FRAGMENT_HEADER_LEN",
        ),
        q(
            WAL,
            "whose {}-byte payload is the number of records",
            LOG_FORMAT,
            "SEAL_PAYLOAD_LEN",
        ),
        q(
            WAL,
            "at most {} (`MAX_RECORD_LEN`)",
            LOG_FORMAT,
            "MAX_RECORD_LEN",
        ),
        q(
            WAL,
            "to `RESERVE_STEP` ({})",
            "crates/ferris-wal/src/writer.rs",
            "RESERVE_STEP",
        ),
        q(
            WAL,
            "last sector (up to {} bytes)",
            "crates/ferris-fs/src/sim/disk.rs",
            "SECTOR",
        ),
        q(
            "crates/ferris-wal/src/lib.rs",
            "to [`RESERVE_STEP`] ({}) of zeros",
            "crates/ferris-wal/src/writer.rs",
            "RESERVE_STEP",
        ),
        // The manifest.
        q(
            MANIFEST,
            "### Segment header ({} bytes)",
            LOG_FORMAT,
            "SEGMENT_HEADER_LEN",
        ),
        q(MANIFEST, "the same {} block grid", LOG_FORMAT, "BLOCK_SIZE"),
        q(
            MANIFEST,
            "When fewer than {} bytes remain",
            LOG_FORMAT,
            "FRAGMENT_HEADER_LEN",
        ),
        q(
            MANIFEST,
            "at most {} (`MAX_RECORD_LEN`)",
            LOG_FORMAT,
            "MAX_RECORD_LEN",
        ),
        q(
            MANIFEST,
            "**Levels**: {} (`NUM_LEVELS`)",
            "crates/ferris-core/src/level.rs",
            "NUM_LEVELS",
        ),
        q(
            MANIFEST,
            "the name (1 to {} bytes",
            "crates/ferris-manifest/src/edit.rs",
            "MAX_KEYSPACE_NAME_LEN",
        ),
        q(
            MANIFEST,
            "`Options::max_manifest_size` (default {})",
            "crates/ferris-engine/src/options.rs",
            "max_manifest_size",
        ),
        // The concept articles.
        q(
            "docs/concepts/sorted-tables.md",
            "**data blocks** of about {}",
            SST_WRITER,
            "block_size",
        ),
        q(
            "docs/concepts/sorted-tables.md",
            "at most one restart interval ({} entries)",
            SST_BLOCK,
            "DEFAULT_RESTART_INTERVAL",
        ),
        q(
            "docs/concepts/bloom-filters.md",
            "get at least {} bits",
            SST_FILTER,
            "MIN_BITS",
        ),
        q(
            "docs/concepts/bloom-filters.md",
            "default of {} bits per key",
            SST_FILTER,
            "DEFAULT_BITS_PER_KEY",
        ),
        q(
            "docs/concepts/skip-lists.md",
            "up to at most {} levels (`MAX_HEIGHT`)",
            SKIPLIST_NODES,
            "MAX_HEIGHT",
        ),
        q(
            "docs/concepts/skip-lists.md",
            "packed one after another into {} chunks (`ARENA_CHUNK`)",
            SKIPLIST_NODES,
            "ARENA_CHUNK",
        ),
        q(
            "docs/concepts/skip-lists.md",
            "a fixed {} bytes per range tombstone",
            SKIPLIST,
            "RANGE_TOMBSTONE_OVERHEAD",
        ),
        q(
            "docs/concepts/wal-and-recovery.md",
            "to {} when it creates the segment",
            "crates/ferris-wal/src/writer.rs",
            "RESERVE_STEP",
        ),
        q(
            "docs/concepts/wal-and-recovery.md",
            "in the same {} block",
            LOG_FORMAT,
            "BLOCK_SIZE",
        ),
        q(
            "docs/concepts/transactions.md",
            "up to {} (`Options::transaction_limits`)",
            "crates/ferris-txn/src/resolver.rs",
            "max_history_bytes",
        ),
    ];

    /// The value of an integer expression as constants are written here: literals (with
    /// `_` separators, decimal or `0x` hex, an optional integer type suffix), `a * b`,
    /// `a << b`, and `(expr)`, evaluated left to right with `*` binding tighter than `<<`.
    fn eval(expr: &str) -> Option<u64> {
        let expr = expr.trim();
        if let Some((a, b)) = expr.rsplit_once("<<") {
            return eval(a)?.checked_shl(u32::try_from(eval(b)?).ok()?);
        }
        if let Some((a, b)) = expr.rsplit_once('*') {
            return eval(a)?.checked_mul(eval(b)?);
        }
        if let Some(inner) = expr.strip_prefix('(').and_then(|e| e.strip_suffix(')')) {
            return eval(inner);
        }
        let digits = expr.replace('_', "");
        let digits = ["u8", "u16", "u32", "u64", "usize"]
            .iter()
            .find_map(|t| digits.strip_suffix(t))
            .unwrap_or(&digits);
        match digits.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => digits.parse().ok(),
        }
    }

    /// The value `source` gives `name`: `const NAME: T = value;`, or failing that the
    /// first `name: value,` line (a field set in a struct literal, as in a `Default`).
    fn code_value(source: &str, name: &str) -> Result<u64, String> {
        let const_prefix = format!("const {name}:");
        let field_prefix = format!("{name}: ");
        for line in source.lines().map(str::trim) {
            let line = line.strip_prefix("pub ").unwrap_or(line);
            let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
            let line = line.strip_prefix("pub(super) ").unwrap_or(line);
            let expr = if line.starts_with(&const_prefix) {
                line.split_once('=').map(|(_, v)| v.trim_end_matches(';'))
            } else {
                line.strip_prefix(&field_prefix)
                    .and_then(|v| v.strip_suffix(','))
            };
            if let Some(value) = expr.and_then(eval) {
                return Ok(value);
            }
        }
        Err(format!(
            "defines no `const {name}` and no `{name}: <integer>,` field"
        ))
    }

    /// The figure at the start of `text` and how many bytes it takes: digits with `,` or
    /// `_` between them, then optionally ` KiB`, ` MiB` or ` GiB`.
    fn figure(text: &str) -> Option<(u64, usize)> {
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '_'))
            .unwrap_or(text.len());
        // A trailing separator is punctuation, not part of the number.
        let end = text[..end].trim_end_matches([',', '_']).len();
        let number: u64 = text[..end].replace([',', '_'], "").parse().ok()?;
        for (unit, shift) in [(" KiB", 10), (" MiB", 20), (" GiB", 30)] {
            if text[end..].starts_with(unit) {
                return Some((number << shift, end + unit.len()));
            }
        }
        Some((number, end))
    }

    /// Every figure `doc` states where `says` has `{}`. A Rust source file's document is
    /// its `//!` front page.
    fn doc_values(doc: &str, says: &str) -> Result<Vec<u64>, String> {
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let front_page: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.trim().strip_prefix("//!"))
            .collect();
        let lines: Vec<&str> = if front_page.is_empty() {
            doc.lines().collect()
        } else {
            front_page
        };
        let doc = lines
            .into_iter()
            .flat_map(words)
            .collect::<Vec<_>>()
            .join(" ");
        let (before, after) = says.split_once("{}").expect("`says` has a `{}`");
        let found: Vec<u64> = doc
            .match_indices(before)
            // A figure starts a number: "256 MiB" does not also state 56 MiB.
            .filter(|&(at, _)| !doc[..at + before.len()].ends_with(|c: char| c.is_ascii_digit()))
            .filter_map(|(at, _)| {
                let rest = &doc[at + before.len()..];
                let (value, len) = figure(rest)?;
                rest[len..].starts_with(after).then_some(value)
            })
            .collect();
        if found.is_empty() {
            return Err(format!("no longer says {says:?} with a number for {{}}"));
        }
        Ok(found)
    }

    /// Whether the document and the source agree on `quoted`: `Err` names both values.
    fn check_quoted(quoted: &Quoted, doc: &str, source: &str) -> Result<(), String> {
        let Quoted {
            doc: doc_path,
            says,
            file,
            name,
        } = quoted;
        let code = code_value(source, name).map_err(|e| format!("{file} {e}"))?;
        let stated = doc_values(doc, says).map_err(|e| format!("{doc_path} {e}"))?;
        match stated.iter().find(|&&v| v != code) {
            Some(wrong) => Err(format!(
                "{doc_path} says {wrong} in {says:?}, but {file} has {name} = {code}"
            )),
            None => Ok(()),
        }
    }

    fn repo_file(path: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    #[test]
    fn quoted_constants_match_the_code() {
        let failures: Vec<String> = QUOTED
            .iter()
            .filter_map(|q| check_quoted(q, &repo_file(q.doc), &repo_file(q.file)).err())
            .collect();
        assert!(
            failures.is_empty(),
            "numbers in docs/ disagree with the code:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn a_wrong_figure_is_caught() {
        let source = "/// Blocks.\npub const BLOCK_SIZE: usize = 32 * 1024;\n";
        let quoted = q("spec.md", "blocks of {} bytes", "format.rs", "BLOCK_SIZE");
        let right = "The file is divided into blocks of 32,768 bytes, and";
        assert_eq!(check_quoted(&quoted, right, source), Ok(()));
        // A figure that drifted, even across a line break and in other units.
        let wrong = "The file is divided into\nblocks of 16,384 bytes, and";
        assert_eq!(
            check_quoted(&quoted, wrong, source),
            Err(
                "spec.md says 16384 in \"blocks of {} bytes\", but format.rs has \
                 BLOCK_SIZE = 32768"
                    .to_owned()
            )
        );
        let kib = q("spec.md", "a grid of {} blocks", "format.rs", "BLOCK_SIZE");
        let bare = q("spec.md", "{} (`BLOCK_SIZE`)", "format.rs", "BLOCK_SIZE");
        assert_eq!(
            check_quoted(&bare, "blocks of 32 KiB (`BLOCK_SIZE`)", source),
            Ok(())
        );
        assert_eq!(
            check_quoted(&kib, "on a grid of 32 KiB blocks", source),
            Ok(())
        );
        assert!(check_quoted(&kib, "on a grid of 64 KiB blocks", source).is_err());
        // A sentence reworded away is caught too, rather than passing unchecked.
        let gone = check_quoted(&quoted, "The file is divided into 32 KiB blocks.", source);
        assert!(gone.unwrap_err().contains("no longer says"));
        // So is a constant renamed away.
        let renamed = q("spec.md", "blocks of {} bytes", "format.rs", "BLOCK_LEN");
        assert!(
            check_quoted(&renamed, right, source)
                .unwrap_err()
                .contains("BLOCK_LEN")
        );
    }

    #[test]
    fn constants_are_read_as_the_compiler_would() {
        let source = "const A: u64 = 1 << 20;\npub(crate) const B: usize = 256 << 20;\n\
                      pub const C: u32 = 0xa282_ead8;\n  block_size: 4096,\nconst D: usize = 64 * 1024;";
        assert_eq!(code_value(source, "A"), Ok(1 << 20));
        assert_eq!(code_value(source, "B"), Ok(256 << 20));
        assert_eq!(code_value(source, "C"), Ok(0xa282_ead8));
        assert_eq!(code_value(source, "block_size"), Ok(4096));
        assert_eq!(code_value(source, "D"), Ok(65536));
        assert!(code_value(source, "E").is_err());
        // Checked against the real constants, where the crates export them.
        let log = repo_file(LOG_FORMAT);
        assert_eq!(
            code_value(&log, "BLOCK_SIZE"),
            Ok(ferris_log::format::BLOCK_SIZE as u64)
        );
        assert_eq!(
            code_value(&log, "MAX_RECORD_LEN"),
            Ok(ferris_log::MAX_RECORD_LEN)
        );
        assert_eq!(
            code_value(
                &repo_file("crates/ferris-wal/src/writer.rs"),
                "RESERVE_STEP"
            ),
            Ok(ferris_wal::RESERVE_STEP)
        );
    }

    /// `docs/format/table.md`'s bloom filter, read from the spec alone: `m` is 8 × the
    /// array's byte length, probe `i` is bit `(h1 + i × h2) mod m`. Every key a
    /// [`ferris_sstable::filter::BloomBuilder`] added must be found, for key counts where
    /// max(64, 10 × keys) is and is not a multiple of 8; and the reading the spec once
    /// gave (the modulus over max(64, 10 × keys)) must miss some, or this test would not
    /// tell the two apart.
    #[test]
    fn a_bloom_filter_read_as_the_spec_says_finds_every_key() {
        use ferris_sstable::filter::{BloomBuilder, DEFAULT_BITS_PER_KEY};
        fn spec_may_contain(bits: &[u8], k: u8, m: u64, key: &[u8]) -> bool {
            let hash = xxhash_rust::xxh3::xxh3_64(key);
            let (h1, h2) = (hash & 0xffff_ffff, hash >> 32);
            (0..u64::from(k)).all(|i| {
                let j = (h1 + i * h2) % m;
                bits[(j / 8) as usize] & (1 << (j % 8)) != 0
            })
        }
        // "k = round(bits per key × ln 2): 7 at 10 bits per key."
        assert!(spec("table.md").contains("7 at 10 bits per key"));
        assert_eq!(DEFAULT_BITS_PER_KEY, 10);
        let mut old_reading_missed = false;
        for n in 1..=40usize {
            let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("key{i:04}").into_bytes()).collect();
            let mut builder = BloomBuilder::new(DEFAULT_BITS_PER_KEY);
            keys.iter().for_each(|k| builder.add(k));
            let block = builder.finish();
            let sized_for = (n * DEFAULT_BITS_PER_KEY).max(64);
            assert_eq!(block.len(), sized_for.div_ceil(8) + 1, "{n} keys");
            let (&k, bits) = block.split_last().unwrap();
            assert_eq!(k, 7);
            let m = bits.len() as u64 * 8;
            for key in &keys {
                assert!(
                    spec_may_contain(bits, k, m, key),
                    "{n} keys: {key:?} absent"
                );
            }
            if keys
                .iter()
                .any(|key| !spec_may_contain(bits, k, sized_for as u64, key))
            {
                assert!(!sized_for.is_multiple_of(8), "{n} keys");
                old_reading_missed = true;
            }
        }
        assert!(old_reading_missed);
    }
}
