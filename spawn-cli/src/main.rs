//! `spawn`: the debug tool of the spawn library.
//!
//! (Being written: see issue 5. For now only `spawn run -- PROG ARGS…`.)

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

/// Run child processes through the spawn library.
#[derive(Parser)]
#[command(name = "spawn", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one command; the exit code mirrors the child's (128+N for signal N).
    ///
    /// Example: spawn run -- ls -l
    Run {
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Run { argv } => {
            let (program, args) = argv.split_first().expect("clap requires one value");
            match spawn::Command::new(program).args(args).run_inherit() {
                Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
                Err(e) => {
                    eprintln!("spawn: {}: {e}", program.to_string_lossy());
                    ExitCode::from(127)
                }
            }
        }
    }
}
