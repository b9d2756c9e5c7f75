//! The one way every suite reports: a [`Failure`], made from the [`Problem`] a case
//! found, by [`Checking`], which also turns a panic of the implementation into one.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A broken promise: which implementation broke which check, in which case, and how.
///
/// Every check of every suite returns `Result<(), Failure>`, and stops at the first case
/// that fails. Its `Debug` is its `Display`, so a test returning `Result<(), Failure>`
/// (or calling `unwrap`) prints one sentence:
///
/// ```text
/// BrokenFactory(TombstoneIsAbsent) failed against_model, seed 0: after 22 entries: get(b"\x00", 43): got None, expected Deleted
/// ```
///
/// Every case is deterministic, so running the check again repeats the failure. Where
/// the check draws its cases from seeds, [`seed`](Failure::seed) is set, and the check's
/// `_seed` function (`table::round_trips_seed`, `memtable::against_model_seed`, ...) runs
/// that one case again, under a debugger if need be.
///
/// Its parts sit behind one `Box`, so that a `Result<(), Failure>` is a pointer wide: a
/// test returning one passes Clippy's `result_large_err`, and a passing check (the
/// common case) moves nothing larger.
#[derive(Clone, PartialEq, Eq)]
pub struct Failure(Box<Parts>);

/// What a [`Failure`] holds; its accessors read it.
#[derive(Clone, PartialEq, Eq)]
struct Parts {
    implementation: String,
    check: &'static str,
    seed: Option<u64>,
    case: String,
    detail: String,
    got: Option<String>,
    expected: Option<String>,
}

impl Failure {
    /// A failure found by a check of another crate's own, in the same shape as the
    /// suites' (the lab's graders add checks of their own beside the suites): the
    /// implementation, the check (the name that runs it again), the seed of the case if
    /// it has one, the case in words, and what broke. [`with_answers`](Failure::with_answers)
    /// adds what was got and expected.
    pub fn new(
        implementation: impl Into<String>,
        check: &'static str,
        seed: Option<u64>,
        case: impl Into<String>,
        detail: impl Into<String>,
    ) -> Failure {
        Failure(Box::new(Parts {
            implementation: implementation.into(),
            check,
            seed,
            case: case.into(),
            detail: detail.into(),
            got: None,
            expected: None,
        }))
    }

    /// This failure as a wrong answer: the implementation gave `got`, where the contract
    /// demands `expected`.
    pub fn with_answers(mut self, got: impl Into<String>, expected: impl Into<String>) -> Failure {
        self.0.got = Some(got.into());
        self.0.expected = Some(expected.into());
        self
    }

    /// The implementation checked: [`TableFormat::name`](ferris_table::TableFormat::name)
    /// for a table format; the `Debug` form of a memtable factory or a compaction strategy
    /// (for a unit struct, its type's name); for an iterator, the name given to
    /// [`check_iterator`](crate::iterator::check_iterator).
    pub fn implementation(&self) -> &str {
        &self.0.implementation
    }

    /// The check that failed: the name of the public function that runs it, as its
    /// suite's `CHECKS` lists it.
    pub fn check(&self) -> &'static str {
        self.0.check
    }

    /// The seed of the case, when the check draws its cases from seeds: the argument
    /// that replays it.
    pub fn seed(&self) -> Option<u64> {
        self.0.seed
    }

    /// Which case, in words: `seed 3`, a byte and bit flipped, the operation the power was
    /// cut after. Enough to find it again.
    pub fn case(&self) -> &str {
        &self.0.case
    }

    /// What broke: a promise, in a sentence, or the call whose answer was wrong (then
    /// [`got`](Failure::got) and [`expected`](Failure::expected) say how).
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// What the implementation answered, when the failure is a wrong answer.
    pub fn got(&self) -> Option<&str> {
        self.0.got.as_deref()
    }

    /// The answer the contract (or its model) demands, when the failure is a wrong
    /// answer.
    pub fn expected(&self) -> Option<&str> {
        self.0.expected.as_deref()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = &self.0;
        write!(
            f,
            "{} failed {}, {}: {}",
            parts.implementation, parts.check, parts.case, parts.detail
        )?;
        let mut separator = ": ";
        if let Some(got) = &parts.got {
            write!(f, "{separator}got {got}")?;
            separator = ", ";
        }
        if let Some(expected) = &parts.expected {
            write!(f, "{separator}expected {expected}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

/// What a case found wrong, before [`Checking`] names the implementation, the check and
/// the case: a [`Failure`] without them.
#[derive(Debug)]
pub(crate) struct Problem {
    detail: String,
    got: Option<String>,
    expected: Option<String>,
}

impl Problem {
    /// A wrong answer: `what` (a call, an iterator after some moves) gave `got`, where
    /// the contract demands `expected`.
    pub(crate) fn mismatch(
        what: impl fmt::Display,
        got: impl fmt::Display,
        expected: impl fmt::Display,
    ) -> Problem {
        Problem {
            detail: what.to_string(),
            got: Some(got.to_string()),
            expected: Some(expected.to_string()),
        }
    }

    /// The same problem, found within `what`: its detail is prefixed with `what: `.
    pub(crate) fn within(self, what: impl fmt::Display) -> Problem {
        Problem {
            detail: format!("{what}: {}", self.detail),
            ..self
        }
    }

    /// A panic, caught: its message is the detail.
    pub(crate) fn panicked(payload: &(dyn std::any::Any + Send)) -> Problem {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_owned()
        };
        Problem::from(format!("panicked: {message}"))
    }
}

impl From<String> for Problem {
    fn from(detail: String) -> Problem {
        Problem {
            detail,
            got: None,
            expected: None,
        }
    }
}

impl From<&str> for Problem {
    fn from(detail: &str) -> Problem {
        Problem::from(detail.to_owned())
    }
}

/// What a case returns: its result, or the problem it found.
pub(crate) type Outcome<T = ()> = Result<T, Problem>;

/// `Ok` when `condition` holds, else the problem `explain` describes.
pub(crate) fn ensure<P: Into<Problem>>(condition: bool, explain: impl FnOnce() -> P) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(explain().into())
    }
}

/// `Ok` when `got` is `expected`, else the mismatch: `what` gave `got`.
pub(crate) fn equal<T: PartialEq + fmt::Display>(
    what: impl fmt::Display,
    got: T,
    expected: T,
) -> Outcome {
    ensure(got == expected, || Problem::mismatch(what, got, expected))
}

/// Says which call an error came from: `format.open(..).context("open")?`.
pub(crate) trait Context<T> {
    /// The error as a problem, prefixed with `what`.
    fn context(self, what: impl fmt::Display) -> Outcome<T>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Outcome<T> {
        self.map_err(|e| Problem::from(format!("{what}: {e}")))
    }
}

/// One check of one implementation: runs its cases, and makes a [`Failure`] of the first
/// problem one finds, or of a panic.
#[derive(Clone, Copy)]
pub(crate) struct Checking<'a> {
    implementation: &'a str,
    check: &'static str,
}

impl<'a> Checking<'a> {
    /// Check `check` of the implementation called `implementation`.
    pub(crate) fn new(implementation: &'a str, check: &'static str) -> Checking<'a> {
        Checking {
            implementation,
            check,
        }
    }

    /// Runs the case described by `case`.
    pub(crate) fn case<T>(
        &self,
        case: impl fmt::Display,
        body: impl FnOnce() -> Outcome<T>,
    ) -> Result<T, Failure> {
        self.run(None, case.to_string(), body)
    }

    /// Runs the case drawn from `seed`.
    pub(crate) fn seed<T>(
        &self,
        seed: u64,
        body: impl FnOnce() -> Outcome<T>,
    ) -> Result<T, Failure> {
        self.run(Some(seed), format!("seed {seed}"), body)
    }

    fn run<T>(
        &self,
        seed: Option<u64>,
        case: String,
        body: impl FnOnce() -> Outcome<T>,
    ) -> Result<T, Failure> {
        // A panic of the implementation under test is a broken promise like any other:
        // caught, it fails the check with its message, and the other checks still run.
        let problem = match catch_unwind(AssertUnwindSafe(body)) {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(problem)) => problem,
            Err(payload) => Problem::panicked(&*payload),
        };
        Err(Failure(Box::new(Parts {
            implementation: self.implementation.to_owned(),
            check: self.check,
            seed,
            case,
            detail: problem.detail,
            got: problem.got,
            expected: problem.expected,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reads_as_one_sentence() {
        let checking = Checking::new("mini", "round_trips");
        let failure = checking
            .seed(3, || -> Outcome {
                Err(Problem::mismatch("get(b\"k\", 17)", "None", "Deleted").within("a scan"))
            })
            .unwrap_err();
        assert_eq!(failure.seed(), Some(3));
        assert_eq!(
            failure.to_string(),
            "mini failed round_trips, seed 3: a scan: get(b\"k\", 17): got None, expected Deleted"
        );
        let failure = checking
            .case("table 2", || -> Outcome { Err("no table".into()) })
            .unwrap_err();
        assert_eq!((failure.seed(), failure.got()), (None, None));
        assert_eq!(
            format!("{failure:?}"),
            "mini failed round_trips, table 2: no table"
        );
    }

    #[test]
    fn a_panic_is_a_failure_with_its_message() {
        let failure = Checking::new("mini", "names")
            .case("the format's name", || -> Outcome {
                panic!("not expecting {}", "this")
            })
            .unwrap_err();
        assert_eq!(failure.detail(), "panicked: not expecting this");
    }

    #[test]
    fn a_failure_made_outside_a_suite_reads_the_same() {
        let made = Failure::new(
            "mini",
            "round_trips",
            Some(3),
            "seed 3",
            "a scan: get(b\"k\", 17)",
        )
        .with_answers("None", "Deleted");
        let found = Checking::new("mini", "round_trips")
            .seed(3, || -> Outcome {
                Err(Problem::mismatch("get(b\"k\", 17)", "None", "Deleted").within("a scan"))
            })
            .unwrap_err();
        assert_eq!(made, found);
    }
}
