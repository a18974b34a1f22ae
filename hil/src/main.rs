//! `fourcast-hil`: runs scenarios (`hil/scenarios/*.toml`) against a target — the virtual
//! board (`vm`) or a real box (`ssh://user@box`) — and prints a table of pass/fail with
//! every figure measured. Exits 1 if any scenario failed.
//!
//! Why Rust and not Python: the harness shares the test rig's peers and judges
//! (`fourcast-e2e`: srt-live-transmit, ffprobe, the VM's kernel and guest agent, the test
//! CA), and `cargo` is the one tool a checkout already needs.

mod bootenv;
mod report;
mod run;
mod scenario;
mod ssh;
mod target;
mod vm;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use crate::report::Outcome;
use crate::scenario::{Firmware, Scenario};
use crate::target::Target;

#[derive(Parser)]
#[command(
    about = "Runs HIL scenarios against the virtual board or a real box, judged from outside"
)]
struct Args {
    /// `vm` (the virtual board, QEMU) or `ssh://user@box[:port]` (a real box).
    #[arg(long, default_value = "vm")]
    target: String,
    /// Only the short set (`ci = true`), each `ci_repeat` times: what `make test` runs.
    #[arg(long)]
    ci: bool,
    /// Only these scenarios (file names without `.toml`); repeatable.
    #[arg(long)]
    only: Vec<String>,
    /// Runs each scenario this many times instead of its own `repeat`.
    #[arg(long)]
    repeat: Option<u32>,
    /// Where the scenarios are.
    #[arg(long, default_value_os_t = repo().join("hil/scenarios"))]
    scenarios: PathBuf,
    /// ssh: the address the box reaches this machine on (its receivers).
    #[arg(long)]
    tester: Option<String>,
    /// ssh: an API token of the box (Settings → API tokens).
    #[arg(long, env = "FOURCAST_TOKEN")]
    token: Option<String>,
    /// ssh: a command run here that cuts the box's power and brings it back.
    #[arg(long)]
    power_cut: Option<String>,
    /// ssh: a command run here as `CMD in|out DEVICE` (an HDMI switch).
    #[arg(long)]
    cable: Option<String>,
    /// ssh: update bundles built and signed for the box, `good=PATH`, `unhealthy=PATH`,
    /// `broken=PATH`.
    #[arg(long)]
    bundle: Vec<String>,
    /// Prints the scenarios and exits.
    #[arg(long)]
    list: bool,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("hil/ is in the workspace")
        .to_path_buf()
}

fn load(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            Scenario::parse(&name, &text)
        })
        .collect()
}

fn bundles(args: &[String]) -> Result<Vec<(Firmware, PathBuf)>, String> {
    args.iter()
        .map(|a| {
            let (kind, path) = a
                .split_once('=')
                .ok_or_else(|| format!("--bundle {a:?}: KIND=PATH"))?;
            let kind = match kind {
                "good" => Firmware::Good,
                "unhealthy" => Firmware::Unhealthy,
                "broken" => Firmware::Broken,
                other => {
                    return Err(format!(
                        "--bundle: unknown kind {other:?} (good, unhealthy, broken)"
                    ));
                }
            };
            Ok((kind, PathBuf::from(path)))
        })
        .collect()
}

/// The factory config for `name`, with the tester's address and its receiver's and
/// broker's ports.
fn config(name: &str, tester: &str, srt_port: u16, broker_port: u16) -> Result<String, String> {
    let path = repo().join("hil/configs").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .replace("{tester}", tester)
        .replace("{srt_port}", &srt_port.to_string())
        .replace("{broker_port}", &broker_port.to_string()))
}

/// The target, the API token (empty: the harness sets up a new box) and, for a real box,
/// the config to apply.
type Made = (Box<dyn Target>, String, Option<String>);

fn target_for(args: &Args, scenario: &Scenario, ports: (u16, u16)) -> Result<Made, String> {
    let (srt_port, broker_port) = ports;
    if args.target == "vm" {
        let text = config(&scenario.config, "10.0.2.2", srt_port, broker_port)?;
        return Ok((Box::new(vm::VmBoard::flash(&text)?), String::new(), None));
    }
    let tester = args
        .tester
        .clone()
        .ok_or("--tester ADDRESS: where the box reaches this machine (its SRT receiver)")?;
    let token = args
        .token
        .clone()
        .ok_or("--token: an API token of the box")?;
    let mut b = ssh::SshBox::new(&args.target, tester)?;
    b.power_cut = args.power_cut.clone();
    b.cable = args.cable.clone();
    b.bundles = bundles(&args.bundle)?;
    let text = config(&scenario.config, &b.tester, srt_port, broker_port)?;
    Ok((Box::new(b), token, Some(text)))
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}

/// One scenario, `runs` times on one box; a panic in a helper is that run's failure.
fn play(args: &Args, scenario: &Scenario, runs: u32) -> Outcome {
    let started = Instant::now();
    let mut out = Outcome {
        scenario: scenario.name.clone(),
        runs,
        ..Outcome::default()
    };
    let srt_port = fourcast_e2e::peers::free_udp_port();
    let broker_port = fourcast_e2e::free_port();
    let made = std::panic::catch_unwind(|| target_for(args, scenario, (srt_port, broker_port)));
    let (mut target, token, factory) = match made.unwrap_or_else(|p| Err(panic_text(&*p))) {
        Ok(t) => t,
        Err(e) => {
            out.failure = Some(e);
            return out;
        }
    };
    let work = fourcast_e2e::TempDir::new("hil-work");
    let mut session = run::Session::new(target.as_mut(), token, srt_port, work.0.clone());
    session.factory = factory;
    session.broker_port = broker_port;
    'runs: for n in 1..=runs {
        for (i, step) in scenario.steps.iter().enumerate() {
            eprintln!(
                "hil: {} run {n}/{runs} step {}: {step:?}",
                scenario.name,
                i + 1
            );
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                session.step(step, &mut out)
            }))
            .unwrap_or_else(|p| Err(panic_text(&*p)));
            if let Err(e) = result {
                out.failure = Some(format!("run {n}, step {} ({step:?}): {e}", i + 1));
                eprintln!(
                    "hil: {} failed: {e}\n{}",
                    scenario.name,
                    session.target.logs()
                );
                break 'runs;
            }
        }
        out.passed += 1;
    }
    drop(session);
    out.seconds = started.elapsed().as_secs_f64();
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    let kind = if args.target == "vm" { "vm" } else { "ssh" };
    let scenarios = match load(&args.scenarios) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fourcast-hil: {e}");
            return ExitCode::from(2);
        }
    };
    let chosen: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| s.targets.iter().any(|t| t == kind))
        .filter(|s| !args.ci || s.ci)
        .filter(|s| args.only.is_empty() || args.only.contains(&s.name))
        .collect();
    if args.list {
        for s in &chosen {
            println!(
                "{:<28} ci={:<5} repeat={:<3} {}",
                s.name, s.ci, s.repeat, s.about
            );
        }
        return ExitCode::SUCCESS;
    }
    if chosen.is_empty() {
        eprintln!(
            "fourcast-hil: no scenario matches (--only {:?}, target {kind})",
            args.only
        );
        return ExitCode::from(2);
    }
    let mut outcomes = Vec::new();
    for s in chosen {
        let runs = args
            .repeat
            .unwrap_or(if args.ci { s.ci_repeat } else { s.repeat });
        let o = play(&args, s, runs);
        eprintln!(
            "hil: {} {} in {:.0} s",
            s.name,
            if o.ok() { "passed" } else { "FAILED" },
            o.seconds
        );
        outcomes.push(o);
    }
    println!("{}", report::table(&outcomes));
    if outcomes.iter().all(Outcome::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
