//! cominev's integration tests: one binary, one module per topic (ripgrep's layout).

#[path = "suite/util.rs"]
mod util;

#[path = "suite/ai2016.rs"]
mod ai2016;
#[path = "suite/bad_input.rs"]
mod bad_input;
#[path = "suite/batch.rs"]
mod batch;
#[path = "suite/coverage.rs"]
mod coverage;
#[path = "suite/determinism.rs"]
mod determinism;
#[path = "suite/did.rs"]
mod did;
#[path = "suite/formats.rs"]
mod formats;
#[path = "suite/fuzz.rs"]
mod fuzz;
#[path = "suite/published.rs"]
mod published;
#[path = "suite/r_matching.rs"]
mod r_matching;
#[path = "suite/r_matchit.rs"]
mod r_matchit;
#[path = "suite/reproduce.rs"]
mod reproduce;
#[path = "suite/robustness.rs"]
mod robustness;
#[path = "suite/synth.rs"]
mod synth;
#[path = "suite/synth_coverage.rs"]
mod synth_coverage;
