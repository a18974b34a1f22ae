//! `fourcast-fleet`: the fleet manager's tool. It speaks the fleet protocol
//! (`firmware/fleet/PROTOCOL.md`) to a standard MQTT 5 broker: list the boxes, watch one,
//! push a config to a box or a tag and see who applied it, run a command, follow events,
//! and simulate boxes to measure how a broker holds a fleet.

mod ops;
mod session;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::session::BrokerArgs;

#[derive(Parser)]
#[command(
    name = "fourcast-fleet",
    version,
    about = "Manage a fleet of Fourcast boxes over MQTT 5"
)]
struct Cli {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Print the result as JSON (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Which boxes: one id, or every box with a tag.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub device: Option<String>,
    pub tag: Option<String>,
}

/// `ID REST…` or `--tag T REST…`: the target, and the rest of the positionals.
fn target(tag: Option<String>, mut words: Vec<String>) -> anyhow::Result<(Target, Vec<String>)> {
    if tag.is_some() {
        return Ok((Target { device: None, tag }, words));
    }
    if words.is_empty() {
        anyhow::bail!("name a box (its device id) or --tag");
    }
    let device = words.remove(0);
    Ok((
        Target {
            device: Some(device),
            tag: None,
        },
        words,
    ))
}

#[derive(Subcommand)]
enum Command {
    /// A table of the boxes heard from: id, tags, state, firmware, uptime, uplinks, last seen.
    Devices {
        /// Listen this long, s (states are retained; telemetry comes every fleet.telemetry_s).
        #[arg(long, default_value_t = 3.0)]
        wait: f64,
    },
    /// One box's state and live telemetry.
    Show {
        device: String,
        /// Keep printing each telemetry message.
        #[arg(long)]
        follow: bool,
        /// Without --follow: wait this long for telemetry, s.
        #[arg(long, default_value_t = 12.0)]
        wait: f64,
    },
    /// Push a config (TOML or JSON file) to a box or a tag, and report who applied it,
    /// who refused it (with the field) and who is offline.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Run a command (take, uplink, recording, snapshot, reboot) on a box or a tag.
    ///
    /// `cmd ID NAME [ARGS]` or `cmd --tag T NAME [ARGS]`; ARGS is a JSON object
    /// (`{"scene": "wide"}`).
    Cmd {
        /// Every box carrying this tag (instead of an ID).
        #[arg(long)]
        tag: Option<String>,
        /// `[ID] NAME [ARGS]`
        #[arg(required = true, num_args = 1..=3)]
        words: Vec<String>,
        /// Wait this long for the answers, s.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        /// The command dies in the broker (and the box refuses it) after this long, s.
        #[arg(long, default_value_t = 30)]
        expires: u64,
        /// Send this command id instead of a fresh one (to test de-duplication).
        #[arg(long)]
        id: Option<String>,
        /// For snapshot: write the JPEG here (one box).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the boxes' events (one JSON line each).
    Events {
        /// Only this box.
        #[arg(long)]
        device: Option<String>,
        /// Keep printing until interrupted.
        #[arg(long)]
        follow: bool,
        /// Without --follow: listen this long, s.
        #[arg(long, default_value_t = 5.0)]
        wait: f64,
    },
    /// Run N simulated boxes (the agent's protocol core, no media) until interrupted.
    Simulate {
        #[arg(long)]
        devices: usize,
        /// Device ids are PREFIX-0000 …
        #[arg(long, default_value = "sim")]
        prefix: String,
        /// Every simulated box carries this tag.
        #[arg(long, default_value = "sim")]
        tag: String,
        #[arg(long, default_value_t = 10)]
        telemetry_s: u64,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// `config push ID FILE` or `config push --tag T FILE`.
    Push {
        /// Every box carrying this tag (instead of an ID).
        #[arg(long)]
        tag: Option<String>,
        /// `[ID] FILE`
        #[arg(required = true, num_args = 1..=2)]
        words: Vec<String>,
        /// Wait this long for the boxes' reports, s.
        #[arg(long, default_value_t = 15.0)]
        timeout: f64,
        /// How long to listen for the tag's boxes first, s.
        #[arg(long, default_value_t = 3.0)]
        discover: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fourcast-fleet: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let b = &cli.broker;
        match cli.command {
            Command::Devices { wait } => ops::devices(b, wait, cli.json).await,
            Command::Show {
                device,
                follow,
                wait,
            } => ops::show(b, &device, follow, wait).await,
            Command::Config {
                action:
                    ConfigAction::Push {
                        tag,
                        words,
                        timeout,
                        discover,
                    },
            } => {
                let (target, rest) = target(tag, words)?;
                let [file] = &rest[..] else {
                    anyhow::bail!("config push: give one FILE after the box or --tag");
                };
                ops::config_push(
                    b,
                    &target,
                    &PathBuf::from(file),
                    timeout,
                    discover,
                    cli.json,
                )
                .await
            }
            Command::Cmd {
                tag,
                words,
                timeout,
                expires,
                id,
                out,
            } => {
                let (target, rest) = target(tag, words)?;
                let (name, args) = match &rest[..] {
                    [name] => (name.clone(), "{}".to_string()),
                    [name, args] => (name.clone(), args.clone()),
                    _ => anyhow::bail!("cmd: give NAME [ARGS] after the box or --tag"),
                };
                let c = ops::CmdArgs {
                    name,
                    args,
                    timeout,
                    expires,
                    id,
                    out,
                };
                ops::cmd(b, &target, &c, cli.json).await
            }
            Command::Events {
                device,
                follow,
                wait,
            } => ops::events(b, device.as_deref(), follow, wait).await,
            Command::Simulate {
                devices,
                prefix,
                tag,
                telemetry_s,
            } => simulate::run(b, devices, &prefix, &tag, telemetry_s).await,
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("fourcast-fleet: {e:#}");
            ExitCode::from(2)
        }
    }
}
