//! `fourcast-fleet`: the fleet manager's tool. It speaks the fleet protocol
//! (`firmware/fleet/PROTOCOL.md`) to a standard MQTT 5 broker: list the boxes, watch one,
//! push a config to a box or a tag and see who applied it, run a command, follow events,
//! and simulate boxes to measure how a broker holds a fleet.

mod ops;
mod ota;
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
    /// Firmware updates: a staged rollout across a tag, and where each box stands.
    Ota {
        #[command(subcommand)]
        action: OtaAction,
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
        /// Simulated updates: this share of the boxes fails its health check, % (spread
        /// evenly over the ids).
        #[arg(long, default_value_t = 0)]
        ota_fail_pct: u32,
        /// A simulated update takes this long from job to its end, s.
        #[arg(long, default_value_t = 3.0)]
        ota_seconds: f64,
    },
}

#[derive(Subcommand)]
enum OtaAction {
    /// Update every box with a tag, in batches (each twice the last) that start only when
    /// the last batch has proven itself healthy; aborts (no new boxes) when failures pass
    /// --max-failures.
    Rollout {
        #[arg(long)]
        tag: String,
        /// The bundle's URL (http:// or https://, reachable from the boxes).
        #[arg(long)]
        bundle: String,
        /// The bundle's SHA-256 (64 hex digits); a box refuses anything else.
        #[arg(long)]
        sha256: String,
        /// The first batch's size.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// At most this many boxes start a minute: `N` or `N/min`.
        #[arg(long, default_value = "10/min", value_parser = per_minute)]
        rate: u32,
        /// Abort once more than this share of the started boxes failed: `P` or `P%`.
        #[arg(long, default_value = "10%", value_parser = percent)]
        max_failures: f64,
        /// How long each box's new firmware has to prove itself, s (30–3600).
        #[arg(long, default_value_t = 180)]
        health_window: u32,
        /// A box silent this long after its start counts as failed, s (default: the
        /// health window plus 30 minutes).
        #[arg(long)]
        box_timeout: Option<u64>,
        /// When the boxes may reboot: now, idle or window (default: each box's [ota]).
        #[arg(long)]
        install: Option<String>,
        #[arg(long)]
        allow_downgrade: bool,
        /// How long to listen for the tag's boxes first, s.
        #[arg(long, default_value_t = 3.0)]
        discover: f64,
    },
    /// Each box's update job and phase, from its telemetry.
    Status {
        #[arg(long)]
        tag: Option<String>,
        /// Listen this long, s (telemetry comes every fleet.telemetry_s).
        #[arg(long, default_value_t = 12.0)]
        wait: f64,
    },
}

async fn run_ota(b: &BrokerArgs, action: OtaAction, json: bool) -> anyhow::Result<bool> {
    match action {
        OtaAction::Rollout {
            tag,
            bundle,
            sha256,
            batch,
            rate,
            max_failures,
            health_window,
            box_timeout,
            install,
            allow_downgrade,
            discover,
        } => {
            let r = ota::RolloutArgs {
                tag,
                url: bundle,
                sha256,
                plan: fourcast_fleet::rollout::Plan {
                    batch,
                    per_minute: rate,
                    max_failure_pct: max_failures,
                    box_timeout_ms: box_timeout.unwrap_or(u64::from(health_window) + 1800) * 1000,
                },
                health_window_s: health_window,
                install,
                allow_downgrade,
                discover,
            };
            ota::rollout(b, &r, json).await
        }
        OtaAction::Status { tag, wait } => ota::status(b, tag.as_deref(), wait, json).await,
    }
}

fn per_minute(text: &str) -> Result<u32, String> {
    let n = text.trim().trim_end_matches("/min");
    match n.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?}: give boxes a minute, e.g. 10/min")),
    }
}

fn percent(text: &str) -> Result<f64, String> {
    match text.trim().trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?}: give a share of 0–100 %, e.g. 10%")),
    }
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
            Command::Ota { action } => run_ota(b, action, cli.json).await,
            Command::Simulate {
                devices,
                prefix,
                tag,
                telemetry_s,
                ota_fail_pct,
                ota_seconds,
            } => {
                let ota = simulate::OtaScript {
                    fail_pct: ota_fail_pct,
                    seconds: ota_seconds,
                };
                simulate::run(b, devices, &prefix, &tag, telemetry_s, ota).await
            }
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
