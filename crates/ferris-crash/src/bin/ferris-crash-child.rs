//! The child process of FerrisDB's crash loop: opens the database and writes, reporting each
//! acknowledged write on stdout, until the parent kills it. See the `ferris-crash` crate.
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    ferris_crash::child_main(std::env::args().skip(1))
}
