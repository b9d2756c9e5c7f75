//! `cargo xtask book`: the FerrisDB book, rendered by mdBook and link-checked.
//!
//! The table of contents is one checked-in file, `docs/SUMMARY.md`, in mdBook's syntax;
//! its entries are links, relative to `docs/`, to the files each page is made of:
//!
//! - a `.rs` file: the page is the file's leading `//!` doc, the chapter rustdoc shows as
//!   that crate's or module's front page (`../crates/ferris-wal/src/lib.rs`);
//! - a `.md` file: the page is the file (`concepts/skip-lists.md`, `format/wal.md`).
//!
//! From it the command writes an mdBook source tree under `target/book/src`, rewriting
//! each page on the way ([`markdown`]): doctests become Rust code blocks without their
//! hidden lines; intra-doc links (``[`Db`]``, ``[`Wal::sync`]``) become links into the
//! API docs, which are copied into the book under `api/` ([`api`]); relative links and
//! backticked paths of other pages become links between pages; a link to a repository
//! file that is no page leads to the file in the repository. Then mdBook renders
//! `target/book/html`, with search, and the book's own link checker ([`check`]) reads
//! every page: a relative link to a missing file or a missing `#fragment` fails the
//! command, with the list.
//!
//! The book's `book.toml` is generated here (see [`BOOK_TOML`]): the settings are few,
//! and keeping them beside the code that writes the tree keeps `docs/` about the text.
//! mdBook itself is installed with cargo, pinned ([`MDBOOK_VERSION`]), when the right
//! version is not already on `PATH`.

mod api;
mod check;
mod markdown;

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, bail, ensure};

use api::{Api, Scope};
use markdown::{Flavor, Resolver};

/// The mdBook release the book is built with. 0.5.4 builds with Rust 1.88 and later; with
/// only its `search` feature (no `serve` and `watch`, which pull in tokio and a file
/// watcher) it installs from scratch in about three minutes on a 2-core machine.
const MDBOOK_VERSION: &str = "0.5.4";

/// The book's mdBook settings. Chapter titles carry the book's own numbers (chapter 0 is
/// the shared vocabulary), so mdBook's numbering is off; the code is FerrisDB's, which
/// the Rust playground cannot run, so no code block is runnable.
const BOOK_TOML: &str = r#"[book]
title = "FerrisDB: a storage engine to read"
language = "en"
src = "src"

[build]
create-missing = false

[rust]
edition = "2024"

[output.html]
no-section-label = true

[output.html.playground]
runnable = false

[output.html.search]
enable = true
"#;

/// Arguments of `cargo xtask book`.
#[derive(clap::Args)]
pub(crate) struct BookArgs {
    /// Where to build the book: the generated mdBook source goes to `DIR/src`, the
    /// rendered book to `DIR/html`. Default: the `book` directory of cargo's target dir.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Open the rendered book in a browser when it is built.
    #[arg(long)]
    open: bool,
    /// Use the rustdoc output in DIR (as `cargo doc --workspace --no-deps` leaves it in
    /// `target/doc`) instead of running `cargo doc`. CI passes the docs it has just built.
    #[arg(long, value_name = "DIR")]
    api_docs: Option<PathBuf>,
}

/// Builds the book and checks its links.
pub(crate) fn run(args: &BookArgs) -> anyhow::Result<()> {
    let root = crate::loc::workspace_root();
    let workspace = Workspace::load(&root)?;
    // Absolute, because mdBook takes a relative `--dest-dir` relative to the book.
    let out = std::path::absolute(
        args.out
            .clone()
            .unwrap_or_else(|| workspace.target_dir.join("book")),
    )?;

    let api_docs = match &args.api_docs {
        Some(dir) => dir.clone(),
        None => {
            let started = Instant::now();
            cargo_doc(&root)?;
            println!("cargo doc: {:.1?}", started.elapsed());
            workspace.target_dir.join("doc")
        }
    };
    ensure!(
        api_docs.join("help.html").is_file() || api_docs.join("crates.js").is_file(),
        "{} holds no rustdoc output (run `cargo doc --workspace --no-deps`)",
        api_docs.display()
    );

    let src = out.join("src");
    let summary =
        std::fs::read_to_string(root.join("docs/SUMMARY.md")).context("reading docs/SUMMARY.md")?;
    let generated = generate(&root, &summary, &workspace, &Api::new(&api_docs), &src)?;
    std::fs::write(out.join("book.toml"), BOOK_TOML)?;
    let stats = &generated.stats;
    println!(
        "{} intra-doc links lead into the API docs; {} name nothing rustdoc documented \
         and are plain code; {} links lead to repository files that are no page",
        stats.items,
        stats.plain.len(),
        stats.repository.len()
    );
    for link in stats.plain.iter().chain(&stats.repository) {
        println!("  {link}");
    }

    let mdbook = ensure_mdbook()?;
    let html = out.join("html");
    let started = Instant::now();
    let status = Command::new(&mdbook)
        .arg("build")
        .arg(&out)
        .arg("--dest-dir")
        .arg(&html)
        .status()
        .with_context(|| format!("running {}", mdbook.display()))?;
    ensure!(status.success(), "mdbook build failed ({status})");
    copy_dir(&api_docs, &html.join("api"))?;
    println!("mdbook build and API docs copy: {:.1?}", started.elapsed());

    let report = check::check_dir(&html, &["api"])?;
    let (bytes, files) = dir_size(&html)?;
    let (api_bytes, _) = dir_size(&html.join("api"))?;
    println!(
        "book: {} pages from docs/SUMMARY.md; {} HTML pages with {} relative links checked; \
         {files} files, {:.1} MiB ({:.1} MiB of it the API docs)",
        generated.pages,
        report.pages,
        report.links,
        bytes as f64 / (1 << 20) as f64,
        api_bytes as f64 / (1 << 20) as f64,
    );
    if !generated.problems.is_empty() || !report.broken.is_empty() {
        let mut message = String::new();
        if !generated.problems.is_empty() {
            message.push_str(&format!(
                "{} broken link(s) in the book's sources:\n  {}\n",
                generated.problems.len(),
                generated.problems.join("\n  ")
            ));
        }
        if !report.broken.is_empty() {
            let list: Vec<String> = report.broken.iter().map(ToString::to_string).collect();
            message.push_str(&format!(
                "{} broken link(s) in the rendered book (page: link):\n  {}\n",
                list.len(),
                list.join("\n  ")
            ));
        }
        bail!("{}", message.trim_end());
    }
    let index = html.join("index.html");
    println!("the book: {}", index.display());
    if args.open {
        open(&index);
    }
    Ok(())
}

/// What the book needs to know of the workspace, from `cargo metadata`.
struct Workspace {
    target_dir: PathBuf,
    /// The repository's web address (for links to files that are not pages).
    repository: Option<String>,
    /// Every lib and bin target: rustdoc's name for it, and its root source file.
    targets: Vec<Target>,
}

struct Target {
    /// The crate's name as rustdoc names its directory (`ferris_wal`).
    doc_name: String,
    /// `lib` or `bin`.
    kind: String,
    src_path: PathBuf,
}

impl Workspace {
    fn load(root: &Path) -> anyhow::Result<Workspace> {
        let output = Command::new(cargo())
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .current_dir(root)
            .output()
            .context("running cargo metadata")?;
        ensure!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        let target_dir = meta["target_directory"]
            .as_str()
            .context("cargo metadata gave no target directory")?
            .into();
        let packages = meta["packages"].as_array().cloned().unwrap_or_default();
        let repository = packages
            .iter()
            .find_map(|p| p["repository"].as_str().map(str::to_owned));
        let targets = packages
            .iter()
            .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
            .filter_map(|t| {
                let kind = t["kind"].as_array()?.first()?.as_str()?.to_owned();
                (kind == "lib" || kind == "bin").then(|| Target {
                    doc_name: t["name"].as_str().unwrap_or_default().replace('-', "_"),
                    kind,
                    src_path: t["src_path"].as_str().unwrap_or_default().into(),
                })
            })
            .collect();
        Ok(Workspace {
            target_dir,
            repository,
            targets,
        })
    }

    /// The rustdoc scope of a chapter file: the crate whose sources hold it (a library
    /// before a binary) and the module the file is.
    fn scope(&self, file: &Path) -> Option<Scope> {
        let mut owners: Vec<&Target> = self
            .targets
            .iter()
            .filter(|t| t.src_path.parent().is_some_and(|dir| file.starts_with(dir)))
            .collect();
        owners.sort_by_key(|t| (t.kind != "lib", t.src_path != file));
        let target = owners.first()?;
        let relative = file.strip_prefix(target.src_path.parent()?).ok()?;
        let modules = if file == target.src_path {
            Vec::new()
        } else {
            let mut parts: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            parts
        };
        Some(Scope {
            krate: target.doc_name.clone(),
            modules,
        })
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// `cargo doc --workspace --no-deps`, warnings denied as CI denies them (so after CI's
/// own docs build this finds everything fresh and builds nothing).
fn cargo_doc(root: &Path) -> anyhow::Result<()> {
    let flags = std::env::var("RUSTDOCFLAGS").unwrap_or_else(|_| "-D warnings".to_owned());
    let status = Command::new(cargo())
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", flags)
        .current_dir(root)
        .status()
        .context("running cargo doc")?;
    ensure!(status.success(), "cargo doc failed ({status})");
    Ok(())
}

/// A page of the book.
struct Page {
    /// The file it is made from, relative to the repository root, `/`-separated.
    source: String,
    /// Its path in the generated mdBook source.
    book: String,
}

/// Where a page made from `source` (relative to the repository root) goes in the book:
/// `docs/` files keep their place under it; a crate's root file becomes
/// `crates/<crate>.md`, another of its source files `crates/<crate>/<module path>.md`; any
/// other file keeps its repository path. A `README.md` becomes its directory's
/// `index.md`, as mdBook would rename it anyway (`docs/README.md`, the introduction,
/// becomes the book's front page), so that links to it are right from the start.
fn book_path(source: &str) -> String {
    if let Some(dir) = source.strip_suffix("README.md")
        && (dir.is_empty() || dir.ends_with('/'))
    {
        return book_path(&format!("{dir}index.md"));
    }
    if let Some(rest) = source.strip_prefix("docs/") {
        return rest.to_owned();
    }
    let parts: Vec<&str> = source.split('/').collect();
    match parts.as_slice() {
        ["crates", krate, "src", "lib.rs" | "main.rs"] => format!("crates/{krate}.md"),
        ["crates", krate, "src", module @ ..] => {
            let module = module.join("/");
            let module = module.strip_suffix(".rs").unwrap_or(&module);
            format!("crates/{krate}/{module}.md")
        }
        _ => match source.strip_suffix(".rs") {
            Some(stem) => format!("{stem}.md"),
            None => source.to_owned(),
        },
    }
}

/// `to` as a link from the page `from`, both paths in the book.
fn relative(from: &str, to: &str) -> String {
    let mut from_dir: Vec<&str> = from.split('/').collect();
    from_dir.pop();
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dir
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count()
        .min(to_parts.len() - 1);
    let mut link = "../".repeat(from_dir.len() - common);
    link.push_str(&to_parts[common..].join("/"));
    link
}

/// The entries of a SUMMARY.md: the byte range of each link's destination.
fn summary_links(summary: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut offset = 0;
    for line in summary.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if let Some(open) = trimmed.rfind("](")
            && trimmed.ends_with(')')
            && trimmed
                .trim_start()
                .trim_start_matches(['-', '*', ' '])
                .starts_with('[')
        {
            found.push(offset + open + 2..offset + trimmed.len() - 1);
        }
        offset += line.len();
    }
    found
}

/// What [`generate`] wrote.
struct Generated {
    pages: usize,
    /// Links in the sources that lead nowhere, as `file: problem`.
    problems: Vec<String>,
    stats: LinkStats,
}

/// Writes the mdBook source tree for `summary` (the text of `docs/SUMMARY.md`) into `src`.
fn generate(
    root: &Path,
    summary: &str,
    workspace: &Workspace,
    api: &Api,
    src: &Path,
) -> anyhow::Result<Generated> {
    let mut problems = Vec::new();
    let mut pages: Vec<Page> = Vec::new();
    let mut book_summary = String::with_capacity(summary.len());
    let mut copied = 0;
    for range in summary_links(summary) {
        book_summary.push_str(&summary[copied..range.start]);
        copied = range.end;
        let dest = &summary[range];
        if dest.is_empty() {
            continue; // a draft chapter, which mdBook lists without a page
        }
        let Some(source) = check::normalize(&Path::new("docs").join(dest)) else {
            problems.push(format!("docs/SUMMARY.md: {dest} is outside the repository"));
            continue;
        };
        if !root.join(&source).is_file() {
            problems.push(format!("docs/SUMMARY.md: no file {source}"));
        }
        let book = book_path(&source);
        if let Some(twice) = pages.iter().find(|p| p.book == book) {
            bail!(
                "docs/SUMMARY.md: {} and {source} would both be {book}",
                twice.source
            );
        }
        book_summary.push_str(&book);
        pages.push(Page { source, book });
    }
    book_summary.push_str(&summary[copied..]);

    if src.exists() {
        std::fs::remove_dir_all(src).with_context(|| format!("clearing {}", src.display()))?;
    }
    std::fs::create_dir_all(src)?;
    std::fs::write(src.join("SUMMARY.md"), book_summary)?;

    let by_source: HashMap<&str, &str> = pages
        .iter()
        .map(|p| (p.source.as_str(), p.book.as_str()))
        .collect();
    let mut assets = BTreeSet::new();
    let mut stats = LinkStats::default();
    for page in &pages {
        let file = root.join(&page.source);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue; // reported above
        };
        let (text, flavor) = if page.source.ends_with(".rs") {
            match markdown::inner_doc(&text) {
                Some(doc) => (doc, Flavor::Rustdoc),
                None => {
                    problems.push(format!(
                        "{}: no leading `//!` doc to make a page of",
                        page.source
                    ));
                    continue;
                }
            }
        } else {
            (text, Flavor::Markdown)
        };
        let mut resolver = PageResolver {
            root,
            page,
            pages: &by_source,
            api,
            scope: page
                .source
                .ends_with(".rs")
                .then(|| workspace.scope(&file))
                .flatten(),
            repository: workspace.repository.as_deref(),
            assets: &mut assets,
            problems: &mut problems,
            stats: &mut stats,
        };
        let rewritten = markdown::rewrite(&text, flavor, &mut resolver);
        let out = src.join(&page.book);
        std::fs::create_dir_all(out.parent().unwrap_or(src))?;
        std::fs::write(&out, rewritten)?;
    }
    for asset in &assets {
        let out = src.join(asset.strip_prefix("docs/").unwrap_or(asset));
        std::fs::create_dir_all(out.parent().unwrap_or(src))?;
        std::fs::copy(root.join(asset), &out).with_context(|| format!("copying {asset}"))?;
    }
    Ok(Generated {
        pages: pages.len(),
        problems,
        stats,
    })
}

/// Resolves the links of one page.
struct PageResolver<'a> {
    root: &'a Path,
    page: &'a Page,
    /// Every page: source path to book path.
    pages: &'a HashMap<&'a str, &'a str>,
    api: &'a Api,
    /// The rustdoc scope, for a page made of a `.rs` file.
    scope: Option<Scope>,
    repository: Option<&'a str>,
    /// Files under `docs/` that pages link to (images), to copy into the book.
    assets: &'a mut BTreeSet<String>,
    problems: &'a mut Vec<String>,
    stats: &'a mut LinkStats,
}

/// How the pages' links were resolved, for the command's report.
#[derive(Default)]
struct LinkStats {
    /// Intra-doc links that lead into the API docs (or, for the standard library, to
    /// the address rustdoc gave it).
    items: usize,
    /// Intra-doc links rustdoc documented nothing for, rendered as plain code.
    plain: Vec<String>,
    /// Links to repository files that are no page, which lead to the repository.
    repository: Vec<String>,
}

impl PageResolver<'_> {
    /// The directory of the page's source, relative to the repository root.
    fn source_dir(&self) -> &Path {
        Path::new(&self.page.source)
            .parent()
            .unwrap_or(Path::new(""))
    }
}

impl Resolver for PageResolver<'_> {
    fn item(&mut self, path: &str) -> Option<String> {
        let href = self.scope.as_ref().and_then(|s| self.api.resolve(s, path));
        match href {
            Some(href) if check::is_external(&href) => {
                self.stats.items += 1;
                Some(href)
            }
            Some(href) => {
                self.stats.items += 1;
                Some(relative(&self.page.book, &format!("api/{href}")))
            }
            None => {
                self.stats
                    .plain
                    .push(format!("{}: {path}", self.page.source));
                None
            }
        }
    }

    fn file(&mut self, dest: &str) -> String {
        let (path, fragment) = match dest.find('#') {
            Some(at) => dest.split_at(at),
            None => (dest, ""),
        };
        let Some(target) = check::normalize(&self.source_dir().join(path)) else {
            self.problems.push(format!(
                "{}: {dest} leads outside the repository",
                self.page.source
            ));
            return dest.to_owned();
        };
        if let Some(book) = self.pages.get(target.as_str()) {
            return format!("{}{fragment}", relative(&self.page.book, book));
        }
        let on_disk = self.root.join(&target);
        if let Some(in_docs) = target.strip_prefix("docs/")
            && on_disk.is_file()
        {
            if target.ends_with(".md") {
                self.problems.push(format!(
                    "{}: {dest} is a page that docs/SUMMARY.md does not list",
                    self.page.source
                ));
                return dest.to_owned();
            }
            self.assets.insert(target.clone());
            return format!("{}{fragment}", relative(&self.page.book, in_docs));
        }
        match self.repository {
            Some(repo) if on_disk.exists() => {
                self.stats
                    .repository
                    .push(format!("{}: {dest}", self.page.source));
                let kind = if on_disk.is_dir() { "tree" } else { "blob" };
                format!("{repo}/{kind}/main/{target}{fragment}")
            }
            _ => {
                self.problems
                    .push(format!("{}: {dest}: no file {target}", self.page.source));
                dest.to_owned()
            }
        }
    }

    fn code_path(&mut self, code: &str) -> Option<String> {
        let is_file = code.ends_with(".md") || code.ends_with(".rs");
        if !is_file || code.contains(char::is_whitespace) {
            return None;
        }
        let candidates = [
            check::normalize(Path::new(code)),
            check::normalize(&self.source_dir().join(code)),
            check::normalize(&Path::new("docs").join(code)),
        ];
        candidates
            .into_iter()
            .flatten()
            .filter(|source| *source != self.page.source)
            .find_map(|source| self.pages.get(source.as_str()).copied())
            .map(|book| relative(&self.page.book, book))
    }
}

/// The `mdbook` to run: the pinned version from `PATH` or cargo's bin directory, installed
/// there with `cargo install` if neither has it.
fn ensure_mdbook() -> anyhow::Result<PathBuf> {
    let version = |bin: &Path| {
        let out = Command::new(bin).arg("--version").output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        Some(text.trim().trim_start_matches("mdbook v").to_owned())
    };
    let on_path = PathBuf::from("mdbook");
    if version(&on_path).as_deref() == Some(MDBOOK_VERSION) {
        return Ok(on_path);
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let installed = cargo_home.join("bin").join("mdbook");
    if version(&installed).as_deref() == Some(MDBOOK_VERSION) {
        return Ok(installed);
    }
    let install = [
        "install",
        "mdbook",
        "--locked",
        "--version",
        MDBOOK_VERSION,
        "--no-default-features",
        "--features",
        "search",
    ];
    println!(
        "installing mdBook {MDBOOK_VERSION}: cargo {}",
        install.join(" ")
    );
    let started = Instant::now();
    // Built in a temporary directory of its own, not in the workspace's target dir.
    let status = Command::new(cargo())
        .args(install)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .context("running cargo install mdbook")?;
    ensure!(status.success(), "cargo install mdbook failed ({status})");
    println!("mdBook installed in {:.1?}", started.elapsed());
    ensure!(
        version(&installed).as_deref() == Some(MDBOOK_VERSION),
        "cargo installed mdBook, but {} is not version {MDBOOK_VERSION}",
        installed.display()
    );
    Ok(installed)
}

/// Copies the directory tree `from` to `to`, replacing what was there.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The total size in bytes and the number of files under `dir`.
fn dir_size(dir: &Path) -> anyhow::Result<(u64, usize)> {
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            let (bytes, files) = dir_size(&entry.path())?;
            total = (total.0 + bytes, total.1 + files);
        } else {
            total = (total.0 + entry.metadata()?.len(), total.1 + 1);
        }
    }
    Ok(total)
}

/// Opens `page` in the desktop's browser; a failure is reported, not fatal.
fn open(page: &Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = Command::new(opener).arg(page).status() {
        eprintln!(
            "could not run {opener}: {e}; open {} yourself",
            page.display()
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a fixture file, and the directories it needs.
    pub(crate) fn write(root: &Path, path: &str, text: &str) {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    #[test]
    fn pages_have_their_place_in_the_book() {
        for (source, book) in [
            ("docs/README.md", "index.md"),
            ("docs/concepts/skip-lists.md", "concepts/skip-lists.md"),
            ("crates/ferris-wal/src/lib.rs", "crates/ferris-wal.md"),
            ("crates/ferris-cli/src/main.rs", "crates/ferris-cli.md"),
            (
                "crates/ferris-engine/src/guide/read_path.rs",
                "crates/ferris-engine/guide/read_path.md",
            ),
            ("ARCHITECTURE.md", "ARCHITECTURE.md"),
            ("lab/README.md", "lab/index.md"),
            ("docs/concepts/README.md", "concepts/index.md"),
        ] {
            assert_eq!(book_path(source), book, "{source}");
        }
    }

    #[test]
    fn links_between_pages_are_relative() {
        assert_eq!(relative("index.md", "format/wal.md"), "format/wal.md");
        assert_eq!(
            relative("concepts/a.md", "format/wal.md"),
            "../format/wal.md"
        );
        assert_eq!(relative("concepts/a.md", "concepts/b.md"), "b.md");
        assert_eq!(
            relative("crates/ferris-engine/guide/x.md", "crates/ferris-engine.md"),
            "../../ferris-engine.md"
        );
        assert_eq!(
            relative("crates/x.md", "api/x/index.html"),
            "../api/x/index.html"
        );
    }

    #[test]
    fn summary_entries_are_found_and_nothing_else() {
        let summary = "# Summary\n\n[Introduction](README.md)\n\n# Chapters\n\n- [0. Core](../crates/ferris-core/src/lib.rs)\n  - [Skip lists](concepts/skip-lists.md)\n- [Draft]()\n\n---\n\nText with [a link](x.md) in it.\n";
        let found: Vec<&str> = summary_links(summary)
            .into_iter()
            .map(|r| &summary[r])
            .collect();
        assert_eq!(
            found,
            [
                "README.md",
                "../crates/ferris-core/src/lib.rs",
                "concepts/skip-lists.md",
                ""
            ]
        );
    }

    /// The checked-in table of contents names only files that exist, each once, and
    /// every `.rs` entry has a `//!` doc to make a page of.
    #[test]
    fn the_summary_names_real_chapters() {
        let root = crate::loc::workspace_root();
        let summary = std::fs::read_to_string(root.join("docs/SUMMARY.md")).unwrap();
        let mut seen = BTreeSet::new();
        for range in summary_links(&summary) {
            let dest = &summary[range];
            let source = check::normalize(&Path::new("docs").join(dest)).unwrap();
            let text = std::fs::read_to_string(root.join(&source))
                .unwrap_or_else(|e| panic!("docs/SUMMARY.md names {source}: {e}"));
            if source.ends_with(".rs") {
                assert!(
                    markdown::inner_doc(&text).is_some(),
                    "{source} has no //! doc"
                );
            }
            assert!(seen.insert(book_path(&source)), "{source} listed twice");
        }
        assert!(
            seen.contains("index.md"),
            "the introduction is docs/README.md"
        );
    }

    /// A small repository: a SUMMARY.md with a crate chapter, an article with an image,
    /// a spec, and links of every kind, some broken.
    #[test]
    fn the_source_tree_is_generated_with_links_rewritten() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        write(
            root,
            "docs/SUMMARY.md",
            "# Summary\n\n[Intro](README.md)\n\n- [0. Core](../crates/ferris-core/src/lib.rs)\n    - [An article](concepts/a.md)\n- [Spec](format/wal.md)\n",
        );
        write(
            root,
            "docs/README.md",
            "# Intro\nStart at [`ferris-core`](../crates/ferris-core/src/lib.rs).\n",
        );
        write(
            root,
            "crates/ferris-core/src/lib.rs",
            "//! # Core\n//!\n//! A [`Key`], a [`Gone`], `docs/concepts/a.md`, [the spec](../../../docs/format/wal.md#header).\n//!\n//! ```\n//! # hidden();\n//! shown();\n//! ```\npub struct Key;\n",
        );
        write(
            root,
            "docs/concepts/a.md",
            "# A\n![diagram](../img/d.svg) [spec](../format/wal.md), [code](../../crates/ferris-core/src/key.rs), [lost](../nowhere.md), [unlisted](../other.md)\n",
        );
        write(root, "docs/format/wal.md", "# WAL\n## Header\n");
        write(root, "docs/img/d.svg", "<svg/>");
        write(root, "docs/other.md", "# Not in the book\n");
        write(root, "crates/ferris-core/src/key.rs", "");
        write(root, "api/ferris_core/index.html", "");
        write(root, "api/ferris_core/struct.Key.html", "");
        let workspace = Workspace {
            target_dir: root.join("target"),
            repository: Some("https://example.org/ferrisdb".into()),
            targets: vec![Target {
                doc_name: "ferris_core".into(),
                kind: "lib".into(),
                src_path: root.join("crates/ferris-core/src/lib.rs"),
            }],
        };
        let summary = std::fs::read_to_string(root.join("docs/SUMMARY.md")).unwrap();
        let src = root.join("out/src");
        let generated = generate(
            root,
            &summary,
            &workspace,
            &Api::new(&root.join("api")),
            &src,
        )
        .unwrap();

        let read = |page: &str| std::fs::read_to_string(src.join(page)).unwrap();
        assert_eq!(generated.pages, 4);
        assert_eq!(
            read("SUMMARY.md"),
            "# Summary\n\n[Intro](index.md)\n\n- [0. Core](crates/ferris-core.md)\n    - [An article](concepts/a.md)\n- [Spec](format/wal.md)\n"
        );
        assert_eq!(
            read("index.md"),
            "# Intro\nStart at [`ferris-core`](crates/ferris-core.md).\n"
        );
        assert_eq!(
            read("crates/ferris-core.md"),
            "# Core\n\nA [`Key`](../api/ferris_core/struct.Key.html), a `Gone`, [`docs/concepts/a.md`](../concepts/a.md), [the spec](../format/wal.md#header).\n\n```rust\nshown();\n```\n"
        );
        assert_eq!(
            read("concepts/a.md"),
            "# A\n![diagram](../img/d.svg) [spec](../format/wal.md), [code](https://example.org/ferrisdb/blob/main/crates/ferris-core/src/key.rs), [lost](../nowhere.md), [unlisted](../other.md)\n"
        );
        assert!(src.join("img/d.svg").is_file(), "the image is copied");
        assert_eq!(
            generated.problems,
            [
                "docs/concepts/a.md: ../nowhere.md: no file docs/nowhere.md",
                "docs/concepts/a.md: ../other.md is a page that docs/SUMMARY.md does not list",
            ]
        );
        assert_eq!(generated.stats.items, 1);
        assert_eq!(
            generated.stats.plain,
            ["crates/ferris-core/src/lib.rs: Gone"]
        );
    }

    #[test]
    fn a_chapter_file_knows_its_crate_and_module() {
        let workspace = Workspace {
            target_dir: PathBuf::new(),
            repository: None,
            targets: vec![
                Target {
                    doc_name: "ferris_engine".into(),
                    kind: "lib".into(),
                    src_path: "/r/crates/ferris-engine/src/lib.rs".into(),
                },
                Target {
                    doc_name: "ferris".into(),
                    kind: "bin".into(),
                    src_path: "/r/crates/ferris-cli/src/main.rs".into(),
                },
            ],
        };
        let scope = |file: &str| workspace.scope(Path::new(file));
        assert_eq!(
            scope("/r/crates/ferris-engine/src/guide/read_path.rs"),
            Some(Scope {
                krate: "ferris_engine".into(),
                modules: vec!["guide".into(), "read_path".into()],
            })
        );
        assert_eq!(
            scope("/r/crates/ferris-engine/src/lib.rs"),
            Some(Scope {
                krate: "ferris_engine".into(),
                modules: vec![],
            })
        );
        assert_eq!(
            scope("/r/crates/ferris-cli/src/main.rs").map(|s| s.krate),
            Some("ferris".into())
        );
        assert_eq!(scope("/r/docs/x.rs"), None);
    }
}
