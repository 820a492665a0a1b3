//! The `cominev` binary: parse flags, run the command, map errors to exit codes.

use clap::Parser;
use cominev::cli::{Cli, Command, ConfigCommand};
use cominev::commands;
use cominev::error::exit;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Estimation allocates and frees many vectors of a few MB (influence functions: 8 MB per
    // million units). By default glibc maps each from the system afresh (the kernel zeroing
    // every page); serving them from the heap and keeping freed memory lets them be reused
    // (1M units × 8 periods, did: 1.03 s → 0.89 s of estimation here). A short-lived process.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
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
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command, "cominev", &mut script);
            commands::emit(&script);
            Ok(exit::OK)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            match clap_mangen::Man::new(command).render(&mut page) {
                Ok(()) => {
                    commands::emit(&page);
                    Ok(exit::OK)
                }
                Err(e) => Err(cominev::error::InputError::usage(
                    format!("cannot render the man page: {e}"),
                    "please report this",
                )),
            }
        }
        Command::Config {
            command: ConfigCommand::Init,
        } => {
            commands::emit(cominev::config::DEFAULT_CONFIG.as_bytes());
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
