//! `fourcastd`: the Fourcast appliance daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod api;
mod controller;
mod metrics;
mod recordings;
mod run;
mod secrets;

/// The Fourcast live-video box: four inputs mixed into one program, encoded as an ABR
/// ladder and served as live HLS.
#[derive(Parser)]
#[command(name = "fourcastd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the box. Without --config: the stored config, or the virtual board's default.
    Run {
        /// Config file (TOML). SIGHUP re-reads it; a bad file changes nothing.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory (store, HLS origin); overrides storage.data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to serve HTTP on, e.g. 127.0.0.1:8080; overrides http.listen.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Checks a config file: prints every error with its field path; exits 1 if any.
    CheckConfig { file: PathBuf },
    /// Prints a board's default config (TOML).
    DefaultConfig {
        /// Board profile.
        #[arg(long, default_value = fourcast_board::DEFAULT_BOARD)]
        board: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            data_dir,
            listen,
        } => run::main(run::Options {
            config,
            data_dir,
            listen,
        }),
        Command::CheckConfig { file } => check_config(&file),
        Command::DefaultConfig { board } => match fourcast_config::default_for_board(&board) {
            Ok(c) => {
                print!("{}", c.to_toml());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let result = fourcast_config::Config::from_toml(&text)
        .and_then(|c| fourcast_engine::Engine::check(&c).map(|()| c));
    match result {
        Ok(_) => {
            println!("{}: OK", file.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors.iter() {
                println!("{e}");
            }
            eprintln!("{}: {} error(s)", file.display(), errors.0.len());
            ExitCode::FAILURE
        }
    }
}
