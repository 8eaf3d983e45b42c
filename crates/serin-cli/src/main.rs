//! The `serin` binary: parses arguments, runs, and turns the outcome into an exit code.

use std::process::ExitCode;

/// mimalloc, as in `serin-judge`: `serin serve` runs the same service.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    serin_cli::main_with_args(std::env::args_os())
}
