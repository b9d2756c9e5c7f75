//! The walk-through on the crate's front page (`src/main.rs`) is a transcript of real
//! runs. This test runs its commands again, on a new database in a temporary directory,
//! and checks that the binary still prints what the chapter shows, so the chapter cannot
//! drift from the code.

use std::path::Path;

use crate::ferris;

const CHAPTER: &str = include_str!("../../src/main.rs");

/// The directory the transcript was recorded in.
const RECORDED_DIR: &str = "/tmp/db";

/// One `$ command` of the transcript and the lines it printed.
struct Step {
    command: String,
    output: Vec<String>,
}

/// The `text` block after `## Walk-through`, split into commands and their output.
fn transcript() -> Vec<Step> {
    let lines: Vec<&str> = CHAPTER
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let heading = lines
        .iter()
        .position(|l| *l == "## Walk-through")
        .expect("a walk-through");
    let start = heading
        + lines[heading..]
            .iter()
            .position(|l| *l == "```text")
            .expect("a text block")
        + 1;
    let mut steps: Vec<Step> = Vec::new();
    for line in lines[start..].iter().take_while(|l| **l != "```") {
        match line.strip_prefix("$ ") {
            Some(command) => steps.push(Step {
                command: command.to_string(),
                output: Vec::new(),
            }),
            None => steps
                .last_mut()
                .expect("output after a command")
                .output
                .push(line.to_string()),
        }
    }
    steps
}

/// Runs one transcript command with `dir` in place of the recorded directory, and returns
/// what it printed (standard output, then standard error, then the exit code if not 0).
fn run(command: &str, dir: &Path) -> Vec<String> {
    let dir_text = dir.display().to_string();
    let words: Vec<String> = command
        .split_whitespace()
        .map(|w| w.replace(RECORDED_DIR, &dir_text))
        .collect();
    match words[0].as_str() {
        "ferris" => {
            let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
            let run = ferris(&args);
            let mut out: Vec<String> = run
                .stdout
                .lines()
                .chain(run.stderr.lines())
                .map(|l| l.replace(&dir_text, RECORDED_DIR))
                .collect();
            if run.code != 0 {
                out.push(format!("(exit {})", run.code));
            }
            out
        }
        "ls" => {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        // `printf 'X' | dd of=FILE bs=1 seek=N conv=notrunc status=none`: one byte
        // overwritten in place.
        "printf" => {
            let arg = |name: &str| {
                words
                    .iter()
                    .find_map(|w| w.strip_prefix(name))
                    .unwrap_or_else(|| panic!("no {name} in {command}"))
            };
            let byte = words[1].trim_matches('\'').as_bytes()[0];
            let file = arg("of=");
            let offset: usize = arg("seek=").parse().unwrap();
            let mut bytes = std::fs::read(file).unwrap();
            bytes[offset] = byte;
            std::fs::write(file, bytes).unwrap();
            Vec::new()
        }
        other => panic!("the walk-through runs {other:?}, which this test cannot"),
    }
}

/// Runs of spaces and tabs count as one space: the chapter shows `scan`'s tab as spaces.
fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_chapters_walk_through_is_what_the_binary_prints() {
    let steps = transcript();
    assert!(steps.len() >= 10, "the transcript was not found");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    for step in &steps {
        let got: Vec<String> = run(&step.command, &dir)
            .iter()
            .map(|l| normalize(l))
            .collect();
        let expected: Vec<String> = step.output.iter().map(|l| normalize(l)).collect();
        assert_eq!(
            got, expected,
            "`{}` printed something else than the chapter shows",
            step.command
        );
    }
}
