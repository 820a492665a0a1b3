//! The `cominev` binary: parse flags, run the command, map errors to exit codes.

use clap::Parser;
use cominev::cli::{Cli, Command, ConfigCommand};
use cominev::commands;
use cominev::error::exit;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::INPUT
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match &cli.command {
        Command::Estimate(args) => commands::estimate(args),
        Command::Validate(args) => commands::validate(args),
        Command::Reproduce(args) => commands::reproduce(args),
        Command::Simulate(args) => commands::simulate(args),
        Command::Batch(args) => commands::batch(args),
        Command::Merge(args) => commands::merge(args),
        Command::Config {
            command: ConfigCommand::Init,
        } => {
            print!("{}", cominev::config::DEFAULT_CONFIG);
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(exit::INPUT)
        }
    }
}
