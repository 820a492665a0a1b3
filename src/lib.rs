//! cominev: counterfactual impact evaluation for social-inclusion programmes.
//!
//! Library layout (data flow left to right):
//! `config` (raw TOML) → `plan` (validated `RunPlan`) → `data` (polars load, checks, design
//! arrays) → `estimators` (psm) → `inference` (intervals) → `diagnostics` (balance) → `report`.
//! `commands` holds the subcommands; `main.rs` only parses flags and maps errors to exit codes.

pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod diagnostics;
pub mod error;
pub mod estimators;
pub mod inference;
pub mod linalg;
pub mod ols;
pub mod parallel;
pub mod plan;
pub mod progress;
pub mod report;
pub mod run;
mod simd;
pub mod simulate;
