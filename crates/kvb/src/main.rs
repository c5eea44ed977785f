//! `kvb`: the command-line tool of kv-backends. See `kvb --help`.
#![deny(unsafe_code)]

mod bar;
mod cli;
mod cmd;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return error::CliError::new(
                error::Code::Failed,
                format!("cannot start the runtime: {e}"),
            )
            .report();
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
