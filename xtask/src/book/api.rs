//! Intra-doc links, resolved against rustdoc's output.
//!
//! A chapter is a crate's (or module's) `//!` doc, and rustdoc resolves its links such as
//! ``[`Wal::sync`]`` by the names in scope. The book cannot ask the compiler, so it looks at
//! what rustdoc wrote instead: `ferris_wal/struct.Wal.html` exists, and has an element
//! `id="method.sync"`, so the link goes to `ferris_wal/struct.Wal.html#method.sync`. A name
//! that is in scope only through a `use` is found on the page rustdoc rendered for the
//! chapter itself, which links it already. When nothing is found the caller renders the
//! link's text as plain code: a missing link is better than a wrong one.

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

use super::check::{self, normalize};

/// Kinds of item that have a page of their own, named `{kind}.{Name}.html`.
const ITEM_KINDS: &[&str] = &[
    "struct",
    "enum",
    "trait",
    "fn",
    "macro",
    "type",
    "constant",
    "static",
    "union",
    "traitalias",
    "derive",
    "attr",
];

/// Kinds of item with a page of its own that can have members (methods, variants, ...).
const PARENT_KINDS: &[&str] = &["struct", "enum", "trait", "union", "type"];

/// Kinds of member, found on their parent's page as `id="{kind}.{name}"`.
const MEMBER_KINDS: &[&str] = &[
    "method",
    "tymethod",
    "variant",
    "structfield",
    "associatedconstant",
    "associatedtype",
];

/// The module whose names a chapter's links are resolved among.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The crate, as rustdoc names its directory (`ferris_wal`, or `ferris` for a binary).
    pub(crate) krate: String,
    /// The module path inside the crate; empty for the crate root.
    pub(crate) modules: Vec<String>,
}

/// A parsed intra-doc link: `kind@a::b::C::<T>::m()#frag` as `(kind, [a, b, C, m], frag)`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ItemPath {
    /// The disambiguator (`struct@`, `fn@`, ...), or one implied by `()` or `!`.
    pub(crate) kind: Option<String>,
    /// The path's segments, generics removed.
    pub(crate) segments: Vec<String>,
    /// A `#fragment` after the path, without the `#`.
    pub(crate) fragment: Option<String>,
}

impl ItemPath {
    /// Parses `text` if it is a Rust path as rustdoc would take it for an intra-doc link,
    /// with an optional disambiguator, generics, `()` or `!` suffix and `#fragment`.
    pub(crate) fn parse(text: &str) -> Option<ItemPath> {
        let (path, fragment) = match text.split_once('#') {
            Some((p, f)) => (p, Some(f.to_owned())),
            None => (text, None),
        };
        let (mut kind, mut path) = match path.split_once('@') {
            Some((k, p)) => (Some(canonical_kind(k)?.to_owned()), p),
            None => (None, path),
        };
        if let Some(p) = path.strip_suffix("()") {
            path = p;
            kind.get_or_insert_with(|| "fn".to_owned());
        } else if let Some(p) = path.strip_suffix('!') {
            path = p;
            kind.get_or_insert_with(|| "macro".to_owned());
        }
        let path = strip_generics(path)?;
        let segments: Vec<String> = path.split("::").map(str::to_owned).collect();
        let ok =
            segments.iter().all(|s| is_ident(s)) && segments.iter().skip(1).all(|s| s != "crate");
        ok.then_some(ItemPath {
            kind,
            segments,
            fragment,
        })
    }
}

/// The page kind a disambiguator stands for, or `None` for one rustdoc does not know.
fn canonical_kind(disambiguator: &str) -> Option<&'static str> {
    Some(match disambiguator {
        "struct" => "struct",
        "enum" => "enum",
        "trait" => "trait",
        "union" => "union",
        "fn" | "function" | "method" => "fn",
        "mod" | "module" => "mod",
        "macro" => "macro",
        "const" | "constant" => "constant",
        "static" => "static",
        "type" | "tyalias" => "type",
        "field" => "structfield",
        "variant" => "variant",
        "derive" => "derive",
        "attr" => "attr",
        "value" => "value",
        _ => return None,
    })
}

/// `a::B<T>::c` as `a::B::c`; `None` when the angle brackets do not balance.
fn strip_generics(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.checked_sub(1)?,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    (depth == 0).then_some(out)
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s != "_"
}

/// Rustdoc's output directory, and what has been read of it.
pub(crate) struct Api {
    root: PathBuf,
    /// The `id`s of each page read so far.
    ids: RefCell<HashMap<PathBuf, HashSet<String>>>,
}

impl Api {
    /// Rustdoc's output in `root` (the `target/doc` of `cargo doc`).
    pub(crate) fn new(root: &Path) -> Api {
        Api {
            root: root.to_owned(),
            ids: RefCell::new(HashMap::new()),
        }
    }

    /// Where the link `text` in a chapter of `scope` leads: a path relative to rustdoc's
    /// output directory, with a fragment for a member (`ferris_wal/struct.Wal.html#method.sync`).
    /// `None` when `text` is no path, or rustdoc documented nothing it could name.
    pub(crate) fn resolve(&self, scope: &Scope, text: &str) -> Option<String> {
        let path = ItemPath::parse(text)?;
        let found = self
            .candidates(scope, &path.segments)
            .iter()
            .find_map(|(krate, rest)| self.locate(krate, rest, path.kind.as_deref()))
            .or_else(|| self.linked_on_chapter_page(scope, &path))?;
        Some(match path.fragment {
            Some(f) => format!("{}#{f}", found.split('#').next().unwrap_or(&found)),
            None => found,
        })
    }

    /// The absolute paths (crate, path in the crate) `segments` may name, most likely
    /// first: relative to the chapter's module, then to its crate, then another crate.
    fn candidates(&self, scope: &Scope, segments: &[String]) -> Vec<(String, Vec<String>)> {
        let (first, rest) = match segments.split_first() {
            Some(split) => split,
            None => return Vec::new(),
        };
        let in_scope = |rest: &[String]| {
            let mut path = scope.modules.clone();
            path.extend_from_slice(rest);
            path
        };
        match first.as_str() {
            "crate" => vec![(scope.krate.clone(), rest.to_vec())],
            "self" => vec![(scope.krate.clone(), in_scope(rest))],
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                let Some(keep) = scope.modules.len().checked_sub(ups) else {
                    return Vec::new();
                };
                let mut path = scope.modules[..keep].to_vec();
                path.extend_from_slice(&segments[ups..]);
                vec![(scope.krate.clone(), path)]
            }
            _ => {
                let mut found = vec![(scope.krate.clone(), in_scope(segments))];
                if !scope.modules.is_empty() {
                    found.push((scope.krate.clone(), segments.to_vec()));
                }
                if self.root.join(first).join("index.html").is_file() {
                    found.push((first.clone(), rest.to_vec()));
                }
                found
            }
        }
    }

    /// The page of `path` in `krate`, or its parent's page with the member's fragment.
    fn locate(&self, krate: &str, path: &[String], kind: Option<&str>) -> Option<String> {
        let Some((name, modules)) = path.split_last() else {
            let index = format!("{krate}/index.html");
            return self.root.join(&index).is_file().then_some(index);
        };
        let dir = std::iter::once(krate)
            .chain(modules.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("/");
        let item_kinds = match kind {
            None | Some("fn") => ITEM_KINDS,
            Some(k) => ITEM_KINDS
                .iter()
                .find(|i| **i == k)
                .map_or(&[][..], std::slice::from_ref),
        };
        for k in item_kinds {
            if let Some(page) = self.page(&format!("{dir}/{k}.{name}.html")) {
                return Some(page);
            }
        }
        if matches!(kind, None | Some("mod"))
            && let Some(page) = self.page(&format!("{dir}/{name}/index.html"))
        {
            return Some(page);
        }
        // Re-exported into the module (`pub use error::Error;`): its page lists it.
        let is_item = |file: &str, fragment: &str| {
            fragment.is_empty()
                && item_kinds
                    .iter()
                    .any(|k| file == format!("{k}.{name}.html"))
        };
        if let Some(page) = self.linked_from(&format!("{dir}/index.html"), is_item, false) {
            return Some(page);
        }
        // A member (method, variant, field, ...) of the item the path names before it.
        let parent = self.locate(krate, modules, None)?;
        let parent_file = parent.rsplit('/').next().unwrap_or(&parent);
        if !PARENT_KINDS
            .iter()
            .any(|k| parent_file.starts_with(&format!("{k}.")))
        {
            return None;
        }
        member_kinds(kind)
            .iter()
            .map(|m| format!("{m}.{name}"))
            .find(|id| self.has_id(&parent, id))
            .map(|id| format!("{parent}#{id}"))
    }

    /// `relative` if that page exists, following rustdoc's redirect pages (which it
    /// writes for items re-exported from private modules) to the page itself.
    fn page(&self, relative: &str) -> Option<String> {
        let file = self.root.join(relative);
        let html = std::fs::read_to_string(&file).ok()?;
        match check::redirect_target(&html) {
            Some(target) => {
                let dir = Path::new(relative).parent().unwrap_or(Path::new(""));
                let resolved = normalize(&dir.join(target))?;
                self.root.join(&resolved).is_file().then_some(resolved)
            }
            None => Some(relative.to_owned()),
        }
    }

    fn has_id(&self, page: &str, id: &str) -> bool {
        let file = self.root.join(page);
        let mut ids = self.ids.borrow_mut();
        let set = ids.entry(file.clone()).or_insert_with(|| {
            std::fs::read_to_string(&file)
                .map(|html| check::ids(&html))
                .unwrap_or_default()
        });
        set.contains(id)
    }

    /// The one target that `page` links and `wanted(file name, fragment)` accepts,
    /// resolved to a path in the API docs (or, with `external`, kept as the address
    /// rustdoc gave when it leads outside them); `None` if there is none, or several.
    fn linked_from(
        &self,
        page: &str,
        wanted: impl Fn(&str, &str) -> bool,
        external: bool,
    ) -> Option<String> {
        let html = std::fs::read_to_string(self.root.join(page)).ok()?;
        let dir = Path::new(page).parent().unwrap_or(Path::new(""));
        let mut found: Vec<String> = check::links(&html)
            .into_iter()
            .filter_map(|href| {
                let (path, fragment) = href.split_once('#').unwrap_or((&href, ""));
                let file = path.rsplit('/').next().unwrap_or(path);
                let file = if file == "index.html" {
                    // A module: `group/index.html` is named by its directory.
                    let mut parts = path.rsplit('/');
                    parts.next();
                    parts.next().map(|m| format!("{m}/index.html"))?
                } else {
                    file.to_owned()
                };
                if !wanted(&file, fragment) {
                    return None;
                }
                if check::is_external(&href) {
                    return external.then_some(href.clone());
                }
                let resolved = self.page(&normalize(&dir.join(path))?)?;
                Some(if fragment.is_empty() {
                    resolved
                } else {
                    format!("{resolved}#{fragment}")
                })
            })
            .collect();
        found.sort();
        found.dedup();
        match found.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// The link as rustdoc itself resolved it on the chapter's own page: the one target
    /// linked there whose name fits the path's last segments. This finds the names a
    /// chapter has in scope through `use`, and items of crates outside the workspace
    /// (the standard library), which keep rustdoc's address for them.
    fn linked_on_chapter_page(&self, scope: &Scope, path: &ItemPath) -> Option<String> {
        let mut page = PathBuf::from(&scope.krate);
        page.extend(&scope.modules);
        let page = page.join("index.html");
        let (name, parents) = path.segments.split_last()?;
        let item_kinds: Vec<&str> = match path.kind.as_deref() {
            None | Some("fn") => ITEM_KINDS.to_vec(),
            Some(k) => ITEM_KINDS.iter().copied().filter(|i| *i == k).collect(),
        };
        let members = member_kinds(path.kind.as_deref());
        let wanted = |file: &str, fragment: &str| {
            let item = fragment.is_empty()
                && (item_kinds
                    .iter()
                    .any(|k| file == format!("{k}.{name}.html"))
                    || file == format!("{name}/index.html"));
            let member = parents.last().is_some_and(|parent| {
                PARENT_KINDS
                    .iter()
                    .any(|k| file == format!("{k}.{parent}.html"))
                    && members.iter().any(|m| fragment == format!("{m}.{name}"))
            });
            item || member
        };
        self.linked_from(&page.to_string_lossy(), wanted, true)
    }
}

/// The member kinds a disambiguator allows.
fn member_kinds(kind: Option<&str>) -> &'static [&'static str] {
    match kind {
        None => MEMBER_KINDS,
        Some("fn") => &["method", "tymethod"],
        Some("structfield") => &["structfield"],
        Some("variant") => &["variant"],
        Some("constant") => &["associatedconstant"],
        Some("type") => &["associatedtype"],
        Some(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::tests::write;

    /// A small rustdoc tree: a crate `ferris_wal` with a struct and its methods, an
    /// enum, a module, a redirect page, and a second crate reached through `use`.
    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "ferris_wal/index.html",
            r#"<h2 id="the-contract">The contract</h2>
            <a href="../ferris_core/struct.WriteBatch.html" title="struct ferris_core::WriteBatch"><code>WriteBatch</code></a>
            <a href="../ferris_core/private/enum.Lookup.html#variant.Deleted"><code>Lookup::Deleted</code></a>
            <a href="https://doc.rust-lang.org/nightly/std/io/enum.ErrorKind.html#variant.StorageFull"><code>io::ErrorKind::StorageFull</code></a>"#,
        );
        write(
            root,
            "ferris_wal/struct.Wal.html",
            r#"<section id="method.sync"></section><section id="structfield.len"></section>"#,
        );
        write(
            root,
            "ferris_wal/enum.Error.html",
            r#"<section id="variant.Poisoned"></section>"#,
        );
        write(root, "ferris_wal/group/index.html", "");
        write(root, "ferris_wal/group/struct.Handoff.html", "");
        write(
            root,
            "ferris_wal/writer/struct.Wal.html",
            r#"<meta http-equiv="refresh" content="0;URL=../../ferris_wal/struct.Wal.html">"#,
        );
        write(root, "ferris_wal/macro.batch.html", "");
        write(
            root,
            "ferris_core/index.html",
            r#"<code>pub use error::<a class="enum" href="error/enum.Error.html">Error</a>;</code>"#,
        );
        write(
            root,
            "ferris_core/private/enum.Lookup.html",
            r#"<meta http-equiv="refresh" content="0;URL=../../ferris_core/enum.Lookup.html">"#,
        );
        write(
            root,
            "ferris_core/enum.Lookup.html",
            r#"<div id="variant.Deleted">"#,
        );
        write(root, "ferris_core/struct.WriteBatch.html", "");
        write(
            root,
            "ferris_core/error/enum.Error.html",
            r#"<section id="variant.Corruption"></section>"#,
        );
        dir
    }

    fn root_scope() -> Scope {
        Scope {
            krate: "ferris_wal".into(),
            modules: vec![],
        }
    }

    #[test]
    fn paths_are_parsed_as_rustdoc_reads_them() {
        let p = ItemPath::parse("fn@a::B<T>::c()#x").unwrap();
        assert_eq!(p.kind.as_deref(), Some("fn"));
        assert_eq!(p.segments, ["a", "B", "c"]);
        assert_eq!(p.fragment.as_deref(), Some("x"));
        assert_eq!(
            ItemPath::parse("vec!").unwrap().kind.as_deref(),
            Some("macro")
        );
        for not_a_path in ["0, 1)", "a b", "", "x.md", "a::", "crate::crate", "foo@Bar"] {
            assert_eq!(ItemPath::parse(not_a_path), None, "{not_a_path:?}");
        }
    }

    #[test]
    fn items_members_and_modules_resolve_to_their_pages() {
        let dir = fixture();
        let api = Api::new(dir.path());
        let scope = root_scope();
        let cases = [
            ("Wal", "ferris_wal/struct.Wal.html"),
            ("Wal::sync", "ferris_wal/struct.Wal.html#method.sync"),
            ("Wal::sync()", "ferris_wal/struct.Wal.html#method.sync"),
            ("Wal::len", "ferris_wal/struct.Wal.html#structfield.len"),
            (
                "crate::Error::Poisoned",
                "ferris_wal/enum.Error.html#variant.Poisoned",
            ),
            ("group", "ferris_wal/group/index.html"),
            ("group::Handoff", "ferris_wal/group/struct.Handoff.html"),
            ("batch!", "ferris_wal/macro.batch.html"),
            ("crate", "ferris_wal/index.html"),
            ("crate#the-contract", "ferris_wal/index.html#the-contract"),
            // Re-exported from a public module: the crate's page lists it.
            ("ferris_core::Error", "ferris_core/error/enum.Error.html"),
            (
                "ferris_core::Error::Corruption",
                "ferris_core/error/enum.Error.html#variant.Corruption",
            ),
            // Outside the workspace: the address rustdoc gave on the chapter's page.
            (
                "io::ErrorKind::StorageFull",
                "https://doc.rust-lang.org/nightly/std/io/enum.ErrorKind.html#variant.StorageFull",
            ),
            // A private module's path: rustdoc's redirect page is followed.
            ("writer::Wal", "ferris_wal/struct.Wal.html"),
            // In scope only through `use`: found where rustdoc linked it.
            ("WriteBatch", "ferris_core/struct.WriteBatch.html"),
            // ... through a redirect page, which is followed.
            (
                "Lookup::Deleted",
                "ferris_core/enum.Lookup.html#variant.Deleted",
            ),
        ];
        for (link, want) in cases {
            assert_eq!(api.resolve(&scope, link).as_deref(), Some(want), "{link}");
        }
    }

    #[test]
    fn a_module_scope_sees_its_crate_and_super() {
        let dir = fixture();
        let api = Api::new(dir.path());
        let scope = Scope {
            krate: "ferris_wal".into(),
            modules: vec!["group".into()],
        };
        assert_eq!(
            api.resolve(&scope, "Handoff").as_deref(),
            Some("ferris_wal/group/struct.Handoff.html")
        );
        assert_eq!(
            api.resolve(&scope, "super::Wal").as_deref(),
            Some("ferris_wal/struct.Wal.html")
        );
        assert_eq!(
            api.resolve(&scope, "Wal").as_deref(),
            Some("ferris_wal/struct.Wal.html")
        );
        assert_eq!(api.resolve(&scope, "super::super::Wal"), None);
    }

    #[test]
    fn what_rustdoc_did_not_document_is_not_linked() {
        let dir = fixture();
        let api = Api::new(dir.path());
        let scope = root_scope();
        for link in [
            "Missing",
            "Wal::missing",
            "struct@Error",
            "Error::Corruption",
            "elsewhere::Thing",
            "not a path",
        ] {
            assert_eq!(api.resolve(&scope, link), None, "{link}");
        }
    }
}
