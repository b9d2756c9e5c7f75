//! The conformance checks run against every implementation in the workspace.

mod strategy;
