//! Turning a chapter's source into a page mdBook can render.
//!
//! A chapter written for rustdoc is not quite markdown for mdBook: its code blocks are
//! doctests (a bare fence is Rust, `# ` hides a line), and its links name Rust items
//! (``[`Db`]``, ``[`Wal::sync`]``, `[text](crate::x::Y)`) rather than files. A concept
//! article links other files by relative path and names pages as backticked repository
//! paths (`docs/format/table.md`). This module does those rewrites on the text; what a
//! path or an item resolves to is the [`Resolver`]'s business.

use std::collections::HashMap;

use super::api::ItemPath;

/// What a page's text was written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// A `//!` doc comment: rustdoc markdown, doctests and intra-doc links.
    Rustdoc,
    /// A markdown file: code blocks are Rust only when their fence says so.
    Markdown,
}

/// Where the links of one page lead.
pub(crate) trait Resolver {
    /// The href of a Rust item named by an intra-doc link (`Wal::sync`, `crate::x#frag`),
    /// or `None` to render the link's text as plain code.
    fn item(&mut self, path: &str) -> Option<String>;
    /// The href that replaces a relative link to a file (`../format/wal.md#header`).
    fn file(&mut self, dest: &str) -> String;
    /// The href of the book page a backticked path names (`docs/format/table.md`), if any.
    fn code_path(&mut self, code: &str) -> Option<String>;
}

/// The leading `//!` doc comment of a Rust source file, without its comment markers; `None`
/// if the file starts with none. Inner attributes and blank lines before it are skipped.
pub(crate) fn inner_doc(rust: &str) -> Option<String> {
    let mut lines = rust
        .lines()
        .map(str::trim_start)
        .skip_while(|l| l.is_empty() || (l.starts_with("#![") && l.ends_with(']')))
        .peekable();
    lines.peek()?.strip_prefix("//!")?;
    let mut doc = String::new();
    for line in lines.map_while(|l| l.strip_prefix("//!")) {
        doc.push_str(line.strip_prefix(' ').unwrap_or(line));
        doc.push('\n');
    }
    Some(doc)
}

/// The words rustdoc accepts in a code block's info string besides `rust`.
const DOCTEST_ATTRIBUTES: &[&str] = &[
    "ignore",
    "should_panic",
    "no_run",
    "compile_fail",
    "test_harness",
    "standalone_crate",
    "allow_fail",
];

/// Whether a fence's info string makes its block Rust, for text of `flavor`: in rustdoc
/// an empty info string does, in a markdown file it must say `rust` or name a doctest
/// attribute.
fn is_rust(info: &str, flavor: Flavor) -> bool {
    let words: Vec<&str> = info
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return flavor == Flavor::Rustdoc;
    }
    words.iter().all(|w| {
        *w == "rust"
            || DOCTEST_ATTRIBUTES.contains(w)
            || w.starts_with("edition")
            || w.starts_with("ignore-")
            || (w.starts_with('{') && w.ends_with('}'))
    })
}

/// An open code fence: its character, its length, whether its block is Rust.
struct Fence {
    marker: char,
    len: usize,
    rust: bool,
}

/// If `line` opens a code fence, the fence and its info string.
fn fence_open(line: &str) -> Option<(char, usize, &str)> {
    let t = line.trim_start();
    let marker = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.len() - t.trim_start_matches(marker).len();
    let info = t[len..].trim();
    (len >= 3 && !(marker == '`' && info.contains('`'))).then_some((marker, len, info))
}

fn closes(fence: &Fence, line: &str) -> bool {
    let t = line.trim();
    let len = t.len() - t.trim_start_matches(fence.marker).len();
    len >= fence.len && len == t.len()
}

/// A line of a Rust doctest as a reader sees it: `None` if rustdoc hides it (`# ` or a
/// lone `#`), `##` unescaped to `#`.
fn shown_rust_line(line: &str) -> Option<String> {
    let t = line.trim_start();
    let indent = &line[..line.len() - t.len()];
    if t == "#" || t.starts_with("# ") {
        None
    } else if let Some(escaped) = t.strip_prefix("##") {
        Some(format!("{indent}#{escaped}"))
    } else {
        Some(line.to_owned())
    }
}

/// Rewrites a page's text for the book: Rust code blocks fenced as ```` ```rust ```` with
/// hidden lines dropped, links resolved through `resolver`.
pub(crate) fn rewrite(text: &str, flavor: Flavor, resolver: &mut dyn Resolver) -> String {
    let mut scanner = Scanner {
        flavor,
        resolver,
        defs: HashMap::new(),
    };
    for (label, dest) in definitions(text) {
        let def = match scanner.dest(&dest) {
            Dest::Href(href) => Def::Kept(href),
            Dest::Plain => Def::Unresolved,
        };
        scanner.defs.insert(label, def);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut prose = String::new();
    let mut fence: Option<Fence> = None;
    for line in text.lines() {
        match &fence {
            Some(open) => {
                if closes(open, line) {
                    fence = None;
                    out.push_str(line);
                    out.push('\n');
                } else if !open.rust {
                    out.push_str(line);
                    out.push('\n');
                } else if let Some(shown) = shown_rust_line(line) {
                    out.push_str(&shown);
                    out.push('\n');
                }
            }
            None => match fence_open(line) {
                Some((marker, len, info)) => {
                    out.push_str(&scanner.prose(&prose));
                    prose.clear();
                    let rust = is_rust(info, flavor);
                    if rust {
                        let indent = &line[..line.len() - line.trim_start().len()];
                        let marks: String = std::iter::repeat_n(marker, len).collect();
                        out.push_str(&format!("{indent}{marks}rust\n"));
                    } else {
                        out.push_str(line);
                        out.push('\n');
                    }
                    fence = Some(Fence { marker, len, rust });
                }
                None => {
                    prose.push_str(line);
                    prose.push('\n');
                }
            },
        }
    }
    out.push_str(&scanner.prose(&prose));
    out
}

/// A link reference definition (`[label]: destination`), and what became of it.
#[derive(Debug, Clone)]
enum Def {
    /// It leads to this href; references to it are left to markdown.
    Kept(String),
    /// An intra-doc path that resolved nowhere: references render as their text.
    Unresolved,
}

/// A label as markdown matches it: case-insensitive, whitespace collapsed.
fn label_key(label: &str) -> String {
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// If `line` is a link reference definition, its label and destination.
fn definition(line: &str) -> Option<(&str, &str)> {
    let indent = line.len() - line.trim_start().len();
    let t = line.trim_start().strip_prefix('[')?;
    let (label, rest) = t.split_once("]:")?;
    let dest = rest.trim();
    let single = !dest.is_empty() && !dest.contains(char::is_whitespace);
    (indent <= 3 && single && !label.contains(['[', ']'])).then_some((label, dest))
}

/// The labels of a text's link reference definitions outside code blocks.
fn definitions(text: &str) -> Vec<(String, String)> {
    let mut defs = Vec::new();
    let mut fence: Option<Fence> = None;
    for line in text.lines() {
        if let Some(open) = &fence {
            if closes(open, line) {
                fence = None;
            }
        } else if let Some((marker, len, _)) = fence_open(line) {
            fence = Some(Fence {
                marker,
                len,
                rust: false,
            });
        } else if let Some((label, dest)) = definition(line) {
            defs.push((label_key(label), dest.to_owned()));
        }
    }
    defs
}

struct Scanner<'r> {
    flavor: Flavor,
    resolver: &'r mut dyn Resolver,
    /// Reference definitions by label, resolved.
    defs: HashMap<String, Def>,
}

/// What a link destination became.
enum Dest {
    /// A link to this href.
    Href(String),
    /// An intra-doc link that resolved nowhere: its text alone.
    Plain,
}

impl Scanner<'_> {
    /// Rewrites the prose between code blocks.
    fn prose(&mut self, text: &str) -> String {
        let mut kept = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            match definition(line).map(|(label, _)| (label, self.defs.get(&label_key(label)))) {
                Some((label, Some(Def::Kept(href)))) => {
                    kept.push_str(&format!("[{label}]: {href}\n"))
                }
                Some((_, Some(Def::Unresolved))) => {}
                _ => kept.push_str(line),
            }
        }
        self.inline(&kept, false)
    }

    /// Where a link destination leads.
    fn dest(&mut self, dest: &str) -> Dest {
        if dest.starts_with('#') || super::check::is_external(dest) && !dest.contains("::") {
            Dest::Href(dest.to_owned())
        } else if self.flavor == Flavor::Rustdoc && ItemPath::parse(dest).is_some() {
            self.resolver.item(dest).map_or(Dest::Plain, Dest::Href)
        } else {
            Dest::Href(self.resolver.file(dest))
        }
    }

    /// Rewrites inline markdown: links, images and code spans. `in_link` is set inside a
    /// link's text, where no further link may start.
    fn inline(&mut self, s: &str, in_link: bool) -> String {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' if b.get(i + 1).is_some_and(u8::is_ascii_punctuation) => {
                    out.push_str(&s[i..i + 2]);
                    i += 2;
                }
                b'`' => match code_span(s, i) {
                    Some(span) => {
                        let whole = &s[i..span.end];
                        let code = s[span.content.clone()].trim();
                        match (!in_link).then(|| self.resolver.code_path(code)).flatten() {
                            Some(href) => out.push_str(&format!("[{whole}]({href})")),
                            None => out.push_str(whole),
                        }
                        i = span.end;
                    }
                    None => {
                        let run = backtick_run(b, i);
                        out.push_str(&s[i..i + run]);
                        i += run;
                    }
                },
                b'!' if b.get(i + 1) == Some(&b'[') => match parse_link(s, i + 1) {
                    Some(link) => {
                        out.push('!');
                        out.push_str(&self.image(s, &link));
                        i = link.end;
                    }
                    None => {
                        out.push_str("![");
                        i += 2;
                    }
                },
                b'[' if !in_link => {
                    let rewritten = parse_link(s, i).and_then(|link| {
                        let text = self.link(s, &link)?;
                        Some((text, link.end))
                    });
                    match rewritten {
                        Some((text, end)) => {
                            out.push_str(&text);
                            i = end;
                        }
                        None => {
                            out.push('[');
                            i += 1;
                        }
                    }
                }
                _ => {
                    let c = s[i..].chars().next().unwrap_or_default();
                    out.push(c);
                    i += c.len_utf8().max(1);
                }
            }
        }
        out
    }

    /// An image: its destination is always a file.
    fn image(&mut self, s: &str, link: &LinkSyntax) -> String {
        let alt = self.inline(&s[link.text.clone()], true);
        match &link.kind {
            LinkKind::Inline { dest, title } => {
                format!("[{alt}]({}{title})", self.resolver.file(dest))
            }
            _ => format!("[{alt}]{}", &s[link.text.end + 1..link.end]),
        }
    }

    /// A link rewritten, or `None` if the brackets are no link (left as text).
    fn link(&mut self, s: &str, link: &LinkSyntax) -> Option<String> {
        let raw_text = &s[link.text.clone()];
        let label = match &link.kind {
            LinkKind::Inline { dest, title } => {
                let text = self.inline(raw_text, true);
                return Some(match self.dest(dest) {
                    Dest::Href(href) => format!("[{text}]({href}{title})"),
                    Dest::Plain => text,
                });
            }
            LinkKind::Reference { label } if label.is_empty() => raw_text,
            LinkKind::Reference { label } => label.as_str(),
            LinkKind::Shortcut => raw_text,
        };
        let text = self.inline(raw_text, true);
        let tail = &s[link.text.end + 1..link.end];
        match self.defs.get(&label_key(label)) {
            Some(Def::Kept(_)) => return Some(format!("[{text}]{tail}")),
            Some(Def::Unresolved) => return Some(text),
            None => {}
        }
        // No definition: rustdoc takes the label as the path of an item.
        let path = label.trim().trim_matches('`');
        if self.flavor != Flavor::Rustdoc || ItemPath::parse(path).is_none() {
            return None;
        }
        Some(match self.resolver.item(path) {
            Some(href) => format!("[{text}]({href})"),
            None => text,
        })
    }
}

/// The syntax of a link: `[text](dest "title")`, `[text][label]`, `[text][]` or `[text]`.
#[derive(Debug)]
struct LinkSyntax {
    /// The byte range of the text between the brackets.
    text: std::ops::Range<usize>,
    kind: LinkKind,
    /// Where the link's syntax ends.
    end: usize,
}

#[derive(Debug)]
enum LinkKind {
    /// `(dest "title")`; `title` keeps its leading space and quotes, or is empty.
    Inline {
        dest: String,
        title: String,
    },
    /// `[label]`, empty for a collapsed reference `[]`.
    Reference {
        label: String,
    },
    Shortcut,
}

/// A code span: the range of its content and where it ends.
struct CodeSpan {
    content: std::ops::Range<usize>,
    end: usize,
}

fn backtick_run(b: &[u8], i: usize) -> usize {
    b[i..].iter().take_while(|&&c| c == b'`').count()
}

/// The code span opening at `i` (a backtick), if a run of as many backticks closes it
/// before the paragraph ends.
fn code_span(s: &str, i: usize) -> Option<CodeSpan> {
    let b = s.as_bytes();
    let run = backtick_run(b, i);
    let mut j = i + run;
    while j < b.len() {
        if b[j] == b'`' {
            let close = backtick_run(b, j);
            if close == run {
                return Some(CodeSpan {
                    content: i + run..j,
                    end: j + close,
                });
            }
            j += close;
        } else if b[j..].starts_with(b"\n\n") {
            return None;
        } else {
            j += 1;
        }
    }
    None
}

/// The link whose text opens with the `[` at `open`, if its brackets close within the
/// paragraph.
fn parse_link(s: &str, open: usize) -> Option<LinkSyntax> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut j = open + 1;
    let close = loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'`' => match code_span(s, j) {
                Some(span) => j = span.end,
                None => j += backtick_run(b, j),
            },
            b'[' => {
                depth += 1;
                j += 1;
            }
            b']' if depth == 0 => break j,
            b']' => {
                depth -= 1;
                j += 1;
            }
            b'\n' if s[j + 1..].trim_start_matches([' ', '\t']).starts_with('\n') => return None,
            _ => j += 1,
        }
    };
    let text = open + 1..close;
    let after = close + 1;
    match b.get(after) {
        Some(b'(') => {
            if let Some((dest, title, end)) = inline_dest(s, after) {
                return Some(LinkSyntax {
                    text,
                    kind: LinkKind::Inline { dest, title },
                    end,
                });
            }
        }
        Some(b'[') => {
            let label_end = s[after + 1..].find(']')? + after + 1;
            let label = &s[after + 1..label_end];
            if !label.contains('[') {
                return Some(LinkSyntax {
                    text,
                    kind: LinkKind::Reference {
                        label: label.to_owned(),
                    },
                    end: label_end + 1,
                });
            }
        }
        _ => {}
    }
    Some(LinkSyntax {
        text,
        kind: LinkKind::Shortcut,
        end: after,
    })
}

/// The destination and title of an inline link whose `(` is at `open`, and where its `)`
/// ends.
fn inline_dest(s: &str, open: usize) -> Option<(String, String, usize)> {
    let b = s.as_bytes();
    let mut j = open + 1;
    while b.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
        j += 1;
    }
    let dest = if b.get(j) == Some(&b'<') {
        let end = s[j..].find('>')? + j;
        let dest = s[j + 1..end].to_owned();
        j = end + 1;
        dest
    } else {
        let start = j;
        let mut depth = 0usize;
        while let Some(&c) = b.get(j) {
            match c {
                b'(' => depth += 1,
                b')' if depth == 0 => break,
                b')' => depth -= 1,
                c if c.is_ascii_whitespace() => break,
                b'\\' => j += 1,
                _ => {}
            }
            j += 1;
        }
        s.get(start..j)?.to_owned()
    };
    let title_start = j;
    while b.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
        j += 1;
    }
    if let Some(&q) = b.get(j).filter(|c| matches!(c, b'"' | b'\'')) {
        j = s[j + 1..].find(q as char)? + j + 2;
        while b.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
            j += 1;
        }
    }
    (b.get(j) == Some(&b')')).then(|| (dest, s[title_start..j].to_owned(), j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves `Wal`, `Wal::sync` and `crate` (into `api/`), files by prefixing `F:`,
    /// and one page path; records what it was asked.
    #[derive(Default)]
    struct Fake {
        asked: Vec<String>,
    }

    impl Resolver for Fake {
        fn item(&mut self, path: &str) -> Option<String> {
            self.asked.push(format!("item {path}"));
            match path {
                "Wal" => Some("api/struct.Wal.html".into()),
                "Wal::sync" => Some("api/struct.Wal.html#method.sync".into()),
                "crate::Db" => Some("api/struct.Db.html".into()),
                "crate#the-contract" => Some("api/index.html#the-contract".into()),
                _ => None,
            }
        }
        fn file(&mut self, dest: &str) -> String {
            self.asked.push(format!("file {dest}"));
            format!("F:{dest}")
        }
        fn code_path(&mut self, code: &str) -> Option<String> {
            (code == "docs/format/table.md").then(|| "format/table.md".to_owned())
        }
    }

    fn rustdoc(text: &str) -> String {
        rewrite(text, Flavor::Rustdoc, &mut Fake::default())
    }

    #[test]
    fn the_leading_inner_doc_is_extracted() {
        let rs = "\n#![forbid(unsafe_code)]\n//! # Title\n//!\n//! Body `x`.\n//!    indented\n#![deny(x)]\n//! not leading\npub fn f() {}\n";
        assert_eq!(
            inner_doc(rs).unwrap(),
            "# Title\n\nBody `x`.\n   indented\n"
        );
        assert_eq!(inner_doc("/// outer\nfn f() {}\n"), None);
        assert_eq!(inner_doc(""), None);
    }

    #[test]
    fn doctest_fences_become_rust_with_hidden_lines_dropped() {
        let doc = "```\n# use x::Y;\nlet a = 1;\n#\n##[derive(Debug)]\n#[derive(Clone)]\n    # indented hidden\n```\n\n```no_run\nf();\n```\n\n```should_panic,edition2021\ng();\n```\n\n```text\n# a heading in text\n```\n";
        assert_eq!(
            rustdoc(doc),
            "```rust\nlet a = 1;\n#[derive(Debug)]\n#[derive(Clone)]\n```\n\n```rust\nf();\n```\n\n```rust\ng();\n```\n\n```text\n# a heading in text\n```\n"
        );
    }

    #[test]
    fn a_markdown_file_keeps_its_untyped_fences() {
        let md =
            "```\n# shown\n```\n\n```rust\n# hidden\nshown();\n```\n\n~~~~sh\n# comment\n~~~~\n";
        let out = rewrite(md, Flavor::Markdown, &mut Fake::default());
        assert_eq!(
            out,
            "```\n# shown\n```\n\n```rust\nshown();\n```\n\n~~~~sh\n# comment\n~~~~\n"
        );
    }

    #[test]
    fn intra_doc_links_resolve_or_become_plain_code() {
        let doc = "See [`Wal`], [`Wal::sync`], [the db](crate::Db), [`Gone`] and [`also gone`](crate::Gone).\n[contract](crate#the-contract), [`Wal`][] and [x][`Wal`].\n";
        assert_eq!(
            rustdoc(doc),
            "See [`Wal`](api/struct.Wal.html), [`Wal::sync`](api/struct.Wal.html#method.sync), [the db](api/struct.Db.html), `Gone` and `also gone`.\n[contract](api/index.html#the-contract), [`Wal`](api/struct.Wal.html) and [x](api/struct.Wal.html).\n"
        );
    }

    #[test]
    fn brackets_that_are_no_link_stay_text() {
        let doc = "A range [0, n) and [a, b], an array `a[i]`, a task [x] done, \\[`Wal`\\].\n";
        let mut fake = Fake::default();
        let out = rewrite(doc, Flavor::Rustdoc, &mut fake);
        assert_eq!(out, doc.replace("[x] done", "x done"));
        // `x` looked like a path; the rest were never asked about.
        assert_eq!(fake.asked, ["item x"]);
    }

    #[test]
    fn markdown_text_gets_no_intra_doc_links() {
        let md = "[`Wal`] and [text](Wal)\n";
        assert_eq!(
            rewrite(md, Flavor::Markdown, &mut Fake::default()),
            "[`Wal`] and [text](F:Wal)\n"
        );
    }

    #[test]
    fn file_links_and_images_go_through_the_resolver() {
        let md = "[spec](../format/wal.md#header \"title\"), ![a diagram](img/x.svg), [web](https://x.org/a.md), [here](#local)\nand [a link that spans\nlines](b.md).\n";
        assert_eq!(
            rewrite(md, Flavor::Markdown, &mut Fake::default()),
            "[spec](F:../format/wal.md#header \"title\"), ![a diagram](F:img/x.svg), [web](https://x.org/a.md), [here](#local)\nand [a link that spans\nlines](F:b.md).\n"
        );
    }

    #[test]
    fn backticked_page_paths_become_links_outside_link_text() {
        let md =
            "See `docs/format/table.md`, `docs/other.md` and [`docs/format/table.md`](x.md).\n";
        assert_eq!(
            rewrite(md, Flavor::Markdown, &mut Fake::default()),
            "See [`docs/format/table.md`](format/table.md), `docs/other.md` and [`docs/format/table.md`](F:x.md).\n"
        );
    }

    #[test]
    fn reference_definitions_are_kept_or_resolved() {
        let doc = "Read [the log][log] and [`Wal`][w], [`Gone`][g].\n\n[log]: ../log.md\n[w]: Wal\n[g]: crate::Gone\n";
        assert_eq!(
            rustdoc(doc),
            "Read [the log][log] and [`Wal`][w], `Gone`.\n\n[log]: F:../log.md\n[w]: api/struct.Wal.html\n"
        );
    }

    #[test]
    fn text_beyond_ascii_is_copied_whole() {
        let doc = "`a × b` is not `c`, and [`Wal`] × 2 [é](crate::Db) `a\u{e9}`\n";
        assert_eq!(
            rustdoc(doc),
            "`a × b` is not `c`, and [`Wal`](api/struct.Wal.html) × 2 [é](api/struct.Db.html) `a\u{e9}`\n"
        );
    }

    #[test]
    fn code_blocks_are_not_scanned_for_links() {
        let doc = "```text\n[`Wal`] `docs/format/table.md`\n```\n";
        assert_eq!(rustdoc(doc), doc);
    }
}
