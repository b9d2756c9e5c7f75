//! The book's link checker: every relative `href` and `src` in the rendered HTML must
//! name a file that exists, and every `#fragment` an `id` in that file.
//!
//! Links with a scheme (`https:`, `mailto:`) are not followed: the book must build
//! offline, and whether another site is up says nothing about the book. The API docs
//! copied under `api/` are checked as targets (a chapter's link to
//! `api/ferris_wal/struct.Wal.html#method.sync` needs that page and that id) but not as
//! sources: they are rustdoc's output, and rustdoc links them.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    path::{Path, PathBuf},
};

/// A link in the rendered book that leads nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broken {
    /// The page holding the link, relative to the book's root.
    pub(crate) file: String,
    /// The link as written in the page.
    pub(crate) link: String,
    /// What is missing.
    pub(crate) reason: String,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.file, self.link, self.reason)
    }
}

/// What [`check_dir`] found.
#[derive(Debug)]
pub(crate) struct Report {
    /// HTML pages read.
    pub(crate) pages: usize,
    /// Relative links followed.
    pub(crate) links: usize,
    /// The links that lead nowhere, in page order.
    pub(crate) broken: Vec<Broken>,
}

/// Checks every link of every HTML page under `root`, except pages in the directories
/// (relative to `root`) named in `skip`.
pub(crate) fn check_dir(root: &Path, skip: &[&str]) -> anyhow::Result<Report> {
    let mut pages = Vec::new();
    collect_html(root, root, skip, &mut pages)?;
    pages.sort();
    let mut ids = IdCache::default();
    let mut report = Report {
        pages: pages.len(),
        links: 0,
        broken: Vec::new(),
    };
    for page in &pages {
        let html = std::fs::read_to_string(root.join(page))?;
        check_page(root, page, &html, &mut ids, &mut report);
    }
    Ok(report)
}

fn collect_html(
    root: &Path,
    dir: &Path,
    skip: &[&str],
    pages: &mut Vec<String>,
) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let relative = relative_name(root, &path);
        if path.is_dir() {
            if !skip.contains(&relative.as_str()) {
                collect_html(root, &path, skip, pages)?;
            }
        } else if relative.ends_with(".html") {
            pages.push(relative);
        }
    }
    Ok(())
}

/// `path` relative to `root`, `/`-separated.
fn relative_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The `id`s of the pages read so far, by path relative to the book's root.
#[derive(Default)]
struct IdCache(HashMap<String, HashSet<String>>);

impl IdCache {
    fn contains(&mut self, root: &Path, page: &str, id: &str) -> bool {
        self.0
            .entry(page.to_owned())
            .or_insert_with(|| {
                std::fs::read_to_string(root.join(page))
                    .map(|html| ids(&html))
                    .unwrap_or_default()
            })
            .contains(id)
    }
}

/// Checks the links of one page, `page` being its path relative to `root`.
fn check_page(root: &Path, page: &str, html: &str, ids: &mut IdCache, report: &mut Report) {
    let page_dir = Path::new(page).parent().unwrap_or(Path::new("")).to_owned();
    // A `<base href>` changes what relative links are relative to (mdBook's 404 page has
    // `<base href="/">`, the book's root when it is served from the root of a site).
    let base = tags(html)
        .find(|t| t.name == "base")
        .and_then(|t| t.attr("href").map(str::to_owned));
    let link_dir = match base.as_deref() {
        Some(b) if b.starts_with('/') => PathBuf::from(b.trim_start_matches('/')),
        Some(b) => page_dir.join(b),
        None => page_dir,
    };
    let broken = &mut report.broken;
    for link in links(html) {
        if link.is_empty() || is_external(&link) {
            continue;
        }
        report.links += 1;
        let fail = |reason: &str| Broken {
            file: page.to_owned(),
            link: link.clone(),
            reason: reason.to_owned(),
        };
        let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
        let path = path.split('?').next().unwrap_or(path);
        // A fragment alone is taken as the page's own, even under a `<base>`: mdBook's
        // 404 page has `<base href="/">` and a heading that links `#its-own-id`.
        let target = if path.is_empty() {
            Some(page.to_owned())
        } else if let Some(absolute) = path.strip_prefix('/') {
            normalize(Path::new(&percent_decode(absolute)))
        } else {
            normalize(&link_dir.join(percent_decode(path)))
        };
        let Some(mut target) = target else {
            broken.push(fail("leads outside the book"));
            continue;
        };
        if target.is_empty() || root.join(&target).is_dir() {
            target = format!("{}index.html", with_slash(&target));
        }
        if !root.join(&target).is_file() {
            broken.push(fail(&format!("no file {target}")));
        } else if !fragment.is_empty()
            && target.ends_with(".html")
            && !ids.contains(root, &target, &percent_decode(fragment))
        {
            broken.push(fail(&format!("no id {fragment:?} in {target}")));
        }
    }
}

fn with_slash(dir: &str) -> String {
    if dir.is_empty() || dir.ends_with('/') {
        dir.to_owned()
    } else {
        format!("{dir}/")
    }
}

/// Whether a link leaves the book: it has a scheme (`https:`, `mailto:`) or is
/// protocol-relative (`//host/...`).
pub(crate) fn is_external(link: &str) -> bool {
    if link.starts_with("//") {
        return true;
    }
    let scheme_len = link
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .unwrap_or(0);
    scheme_len > 0
        && link[..1].chars().all(|c| c.is_ascii_alphabetic())
        && link[scheme_len..].starts_with(':')
}

/// `path` with `.` and `..` resolved, `/`-separated; `None` if it climbs above its start.
pub(crate) fn normalize(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            std::path::Component::RootDir | std::path::Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// `%20` and friends decoded, as a browser does before asking for a file.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `href` and `src` values of a page's tags, entities decoded, in page order.
/// Script and style bodies are not markup and are skipped.
pub(crate) fn links(html: &str) -> Vec<String> {
    attr_values(html, ["href", "src"]).collect()
}

/// The `id`s (and `name`s, which old-style anchors use) of a page's elements.
pub(crate) fn ids(html: &str) -> HashSet<String> {
    attr_values(html, ["id", "name"]).collect()
}

/// The values of the attributes named `names` of every tag in `html`, in page order.
fn attr_values<'a>(html: &'a str, names: [&'a str; 2]) -> impl Iterator<Item = String> + 'a {
    tags(html).flat_map(move |t| {
        t.attrs
            .into_iter()
            .filter(move |(name, _)| names.contains(&name.as_str()))
            .map(|(_, value)| value)
    })
}

/// Where a rustdoc redirect page (`<meta http-equiv="refresh" content="0;URL=...">`)
/// sends its reader, relative to the page.
pub(crate) fn redirect_target(html: &str) -> Option<String> {
    tags(html)
        .find(|t| {
            t.name == "meta"
                && t.attr("http-equiv")
                    .is_some_and(|v| v.eq_ignore_ascii_case("refresh"))
        })
        .and_then(|t| {
            let content = t.attr("content")?;
            let at = content.to_ascii_lowercase().find("url=")?;
            Some(content[at + 4..].trim().to_owned())
        })
}

/// An opening tag: its lowercase name and attributes (lowercase names, decoded values).
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The opening tags of `html`, skipping comments, closing tags, and the bodies of
/// `<script>` and `<style>`. Lenient: malformed markup ends a tag where it can.
fn tags(html: &str) -> impl Iterator<Item = Tag> + '_ {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let lt = rest.find('<')?;
            rest = &rest[lt + 1..];
            if let Some(after) = rest.strip_prefix("!--") {
                rest = after.find("-->").map_or("", |end| &after[end + 3..]);
                continue;
            }
            let name_len = rest
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .unwrap_or(rest.len());
            if name_len == 0 {
                continue;
            }
            let name = rest[..name_len].to_ascii_lowercase();
            rest = &rest[name_len..];
            let attrs = parse_attrs(&mut rest);
            if name == "script" || name == "style" {
                let close = format!("</{name}");
                let lower = rest.to_ascii_lowercase();
                rest = lower.find(&close).map_or("", |end| &rest[end..]);
            }
            return Some(Tag { name, attrs });
        }
    })
}

/// Parses attributes up to and including the tag's `>`, advancing `rest` past it.
fn parse_attrs(rest: &mut &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    loop {
        *rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return attrs;
        }
        if let Some(after) = rest.strip_prefix('>') {
            *rest = after;
            return attrs;
        }
        let name_len = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(rest.len())
            .max(1);
        let name = rest[..name_len].to_ascii_lowercase();
        *rest = rest[name_len..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (raw, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after
                        .find(|c: char| c.is_whitespace() || c == '>')
                        .unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = decode_entities(raw);
            *rest = remaining;
        }
        attrs.push((name, value));
    }
}

/// The character references an attribute value may hold.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = match entity.strip_prefix("#x").or(entity.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => entity.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::tests::write;

    #[test]
    fn tags_attributes_and_entities_are_read_like_a_browser() {
        let html = r#"<!-- <a href="commented.html"> -->
            <A HREF='one.html?x=1&amp;y=2'>x</A><img src=two.svg alt="a > b">
            <script>var s = '<a href="in-script.html">';</script>
            <h2 id="caf&#233;" name=old>t</h2><p id="x&#x41;">"#;
        assert_eq!(links(html), ["one.html?x=1&y=2", "two.svg"]);
        let ids = ids(html);
        for id in ["café", "old", "xA"] {
            assert!(ids.contains(id), "{id} in {ids:?}");
        }
    }

    #[test]
    fn external_links_are_told_from_relative_ones() {
        for external in ["https://x.org", "http://x", "mailto:a@b", "//cdn/x.js"] {
            assert!(is_external(external), "{external}");
        }
        for relative in ["a.html", "../b/c.html#x", "#frag", "c:d/e.html", "1a:b"] {
            // `c:d` has a scheme by the rules; `1a:` does not (a scheme starts with a letter).
            assert_eq!(
                is_external(relative),
                relative == "c:d/e.html",
                "{relative}"
            );
        }
    }

    #[test]
    fn paths_normalize_without_climbing_out() {
        assert_eq!(normalize(Path::new("a/./b/../c")).as_deref(), Some("a/c"));
        assert_eq!(normalize(Path::new("a/../..")), None);
        assert_eq!(normalize(Path::new("/etc")), None);
    }

    #[test]
    fn a_rustdoc_redirect_is_followed() {
        let html = r#"<meta http-equiv="refresh" content="0;URL=../../k/struct.W.html">"#;
        assert_eq!(
            redirect_target(html).as_deref(),
            Some("../../k/struct.W.html")
        );
        assert_eq!(redirect_target("<meta charset=utf-8>"), None);
    }

    /// A small rendered book: one page with good and bad links of every kind.
    #[test]
    fn broken_files_and_fragments_are_reported_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "index.html",
            r##"<h1 id="top">Book</h1>
            <a href="crates/wal.html#durability">ok</a>
            <a href="crates/wal.html#missing">bad fragment</a>
            <a href="#top">ok, same page</a>
            <a href="#nowhere">bad, same page</a>
            <a href="format/">ok, a directory with an index</a>
            <a href="gone.html">bad file</a>
            <a href="../outside.html">bad, outside</a>
            <a href="https://example.org/x.html">external, not followed</a>
            <a href="api/k/struct.W.html#method.m">ok, into the API docs</a>
            <img src="img/a%20b.svg">"##,
        );
        write(
            root,
            "crates/wal.html",
            r#"<h2 id="durability">D</h2><a href="../index.html#top">ok</a>"#,
        );
        write(root, "format/index.html", "");
        write(root, "img/a b.svg", "<svg/>");
        write(root, "api/k/struct.W.html", r#"<a id="method.m"></a>"#);
        // The API docs are targets, not sources: their own links are rustdoc's business.
        write(
            root,
            "api/k/index.html",
            r#"<a href="../../../std/x.html">"#,
        );
        write(
            root,
            "404.html",
            r##"<base href="/"><h1 id="lost"><a href="#lost">Lost</a></h1><a href="crates/wal.html">ok</a>"##,
        );

        let report = check_dir(root, &["api"]).unwrap();
        assert_eq!(report.pages, 4);
        let found: Vec<(&str, &str)> = report
            .broken
            .iter()
            .map(|b| (b.file.as_str(), b.link.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("index.html", "crates/wal.html#missing"),
                ("index.html", "#nowhere"),
                ("index.html", "gone.html"),
                ("index.html", "../outside.html"),
            ]
        );
    }
}
