//! `fourcastd`: the Fourcast appliance daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod controller;
mod fleet;
mod gate;
mod hotplug;
mod http;
mod ota;
mod panel;
mod recordings_index;
mod rtmp_server;
mod run;

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
        /// The D-Bus RAUC is on (`system`, or an address such as `unix:path=…`): turns on
        /// firmware updates. Without it the box has no updater.
        #[arg(long)]
        rauc_bus: Option<String>,
        /// RAUC's system config (its keyring checks a bundle before the agent trusts its
        /// manifest).
        #[arg(long, default_value = "/etc/rauc/system.conf")]
        rauc_conf: PathBuf,
        /// The booted image's os-release: its VERSION_ID is the firmware's version.
        #[arg(long, default_value = "/etc/os-release")]
        release_file: PathBuf,
        /// The command that reboots the machine (split on spaces). Default: `systemctl
        /// reboot` on a real board; the virtual board restarts the daemon instead.
        #[arg(long)]
        reboot_command: Option<String>,
    },
    /// Renders files through the program grid and the ladder offline, as fast as the machine
    /// can (not live), into HLS under --out; prints a JSON summary. For benchmarks.
    Render {
        /// Config whose program size and rate, ladder and segment length are used; default:
        /// the virtual board's default config.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output folder: one HLS folder per rung and master.m3u8.
        #[arg(long)]
        out: PathBuf,
        /// The inputs are raw I420 frames of this size, e.g. 1920x1080.
        #[arg(long, value_parser = parse_size)]
        raw_size: Option<(u32, u32)>,
        /// One to four input files, tiled in the program grid in this order.
        #[arg(required = true, num_args = 1..=4)]
        inputs: Vec<PathBuf>,
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
            rauc_bus,
            rauc_conf,
            release_file,
            reboot_command,
        } => run::main(run::Options {
            config,
            data_dir,
            listen,
            ota: rauc_bus.map(|bus| ota::Setup {
                bus,
                rauc_conf,
                release_file,
            }),
            reboot_command,
        }),
        Command::CheckConfig { file } => check_config(&file),
        Command::Render {
            config,
            out,
            raw_size,
            inputs,
        } => render(config.as_deref(), &out, raw_size, inputs),
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

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let err = || format!("\"{s}\": expected WIDTHxHEIGHT, e.g. 1920x1080");
    let (w, h) = s.split_once('x').ok_or_else(err)?;
    match (w.parse::<u32>(), h.parse::<u32>()) {
        (Ok(w), Ok(h)) if w >= 2 && h >= 2 && w % 2 == 0 && h % 2 == 0 => Ok((w, h)),
        _ => Err(err()),
    }
}

fn render(
    config: Option<&std::path::Path>,
    out: &std::path::Path,
    raw_size: Option<(u32, u32)>,
    inputs: Vec<PathBuf>,
) -> ExitCode {
    let config = match config {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| format!("{}: {e}", file.display()))
            .and_then(|t| {
                fourcast_config::Config::from_toml(&t).map_err(|errors| {
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }),
        None => fourcast_config::default_for_board(fourcast_board::DEFAULT_BOARD)
            .map_err(|e| e.to_string()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(missing) = inputs.iter().find(|p| !p.is_file()) {
        eprintln!("{}: no such file", missing.display());
        return ExitCode::from(2);
    }
    let inputs: Vec<_> = inputs
        .into_iter()
        .map(|path| fourcast_engine::render::RenderInput { path, raw_size })
        .collect();
    match fourcast_engine::render::render(&config, &inputs, out) {
        Ok(r) => {
            let rungs: Vec<_> = r
                .rungs
                .iter()
                .map(|g| {
                    serde_json::json!({
                        "name": g.name, "width": g.width, "height": g.height,
                        "playlist": g.playlist,
                    })
                })
                .collect();
            let wall = r.wall.as_secs_f64();
            println!(
                "{}",
                serde_json::json!({
                    "frames": r.frames,
                    "media_s": r.media_seconds,
                    "wall_s": wall,
                    "speed": if wall > 0.0 { r.media_seconds / wall } else { 0.0 },
                    "encoder": r.encoder,
                    "rungs": rungs,
                })
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
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
