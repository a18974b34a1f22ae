//! `fourcastd run`: load the config, start the controller, serve HTTP, handle signals.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use fourcast_config::Config;
use std::sync::Arc;

use fourcast_store::{Store, Vault};
use tokio::signal::unix::{SignalKind, signal};

use crate::controller::{Controller, Overrides};
use crate::http::device::{Device, Power};

pub(crate) struct Options {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    /// Where RAUC is, when the box takes firmware updates.
    pub ota: Option<crate::ota::Setup>,
    /// How to reboot the machine, when not the board's default.
    pub reboot_command: Option<String>,
}

pub(crate) fn main(mut opts: Options) -> ExitCode {
    init_logging();
    raise_descriptor_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Blocking work (controller calls from HTTP, file reads) is short; a bounded pool
        // keeps a burst of requests from becoming hundreds of threads.
        .max_blocking_threads(32)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let reboot_command = opts.reboot_command.take();
    match runtime.block_on(serve(opts)) {
        Ok((Power::Run, _)) => ExitCode::SUCCESS,
        Ok((power, board)) => {
            drop(runtime);
            restart(power, &board, reboot_command.as_deref())
        }
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("fourcastd: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("FOURCAST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("FOURCAST_LOG_FORMAT").is_ok_and(|v| v == "json");
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    // Every line also goes to the in-memory tail the web UI shows.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr.and(|| crate::http::device::RingWriter));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Raises the soft limit on open descriptors to the hard one (at most 65536): the HTTP
/// gate's cap, recordings, HLS and pipelines then never meet the default 1024.
fn raise_descriptor_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let want = hard.min(65_536);
    if want > soft {
        match setrlimit(Resource::RLIMIT_NOFILE, want, hard) {
            Ok(()) => tracing::debug!(from = soft, to = want, "descriptor limit raised"),
            Err(e) => tracing::warn!("cannot raise the descriptor limit from {soft}: {e}"),
        }
    }
}

/// The panel's wiring from the board's profile (none when the board is unknown).
fn board_panel(c: &Controller) -> fourcast_board::panel::PanelProfile {
    let board = c.snapshot().config.board;
    fourcast_board::profile(&board)
        .map(|p| p.panel)
        .unwrap_or_default()
}

/// Serves until a signal or a reboot asked for over the API; returns what was asked and
/// the board it ran on.
#[allow(clippy::too_many_lines)] // start-up in order; to split HTTP and HTTPS serving
async fn serve(opts: Options) -> anyhow::Result<(Power, String)> {
    let file_text = opts
        .config
        .as_ref()
        .map(|path| std::fs::read_to_string(path).with_context(|| format!("{}", path.display())))
        .transpose()?;
    // The data dir is pinned for the whole run: the store and the device key live in it, so
    // a factory reset erases what this run opened, whatever a config says later.
    let data_dir = data_dir_of(&opts, file_text.as_deref());
    let overrides = Overrides {
        data_dir: Some(data_dir.clone()),
        listen: opts.listen.clone(),
    };
    let (config, store, vault, source) =
        initial_config(&opts, file_text.as_deref(), &data_dir, &overrides)?;
    let addr: SocketAddr = config
        .http
        .listen
        .parse()
        .with_context(|| format!("http.listen {:?}", config.http.listen))?;
    // Bind before starting the media engine, so a busy port fails fast.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    let https = match &config.http.https_listen {
        Some(text) => {
            let addr: SocketAddr = text
                .parse()
                .with_context(|| format!("http.https_listen {text:?}"))?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let identity = crate::http::tls::identity(&config.storage.data_dir, &addr)?;
            Some((listener, identity))
        }
        None => None,
    };
    let controller = tokio::task::spawn_blocking(move || {
        Controller::start(config, store, vault, overrides, &source)
    })
    .await
    .context("controller start")??;

    tokio::spawn(controller.clone().keep_recent_events());
    tokio::spawn(controller.clone().index_recordings());
    tokio::spawn(crate::rtmp_server::supervise(controller.clone()));
    crate::hotplug::start(controller.clone());
    let access = {
        let c = controller.clone();
        tokio::task::spawn_blocking(move || crate::http::access::Access::load(c)).await??
    };
    print_urls(bound, access.setup_code().as_deref());
    let (power_tx, mut power_rx) = tokio::sync::watch::channel(Power::Run);
    let https_info = match &https {
        Some((l, identity)) => Some(crate::http::device::HttpsInfo {
            address: l.local_addr()?.to_string(),
            fingerprint: identity.fingerprint.clone(),
        }),
        None => None,
    };
    let mut device = Device {
        controller: controller.clone(),
        power: Arc::new(power_tx),
        https: https_info,
        ota: None,
        panel: None,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    device.ota = crate::ota::start(opts.ota.clone(), &device, stop_rx.clone());
    device.panel = Some(crate::panel::start(
        &device,
        access.clone(),
        board_panel(&controller),
        stop_rx.clone(),
    ));
    let router = crate::http::router(device.clone(), access);
    let fleet = tokio::spawn(crate::fleet::supervise(device, stop_rx.clone()));
    // One gate for both servers: the cap is on the box's sockets, whichever port.
    let gate = crate::gate::Gate::new(crate::gate::MAX_CONNECTIONS, crate::gate::MAX_PER_SOURCE);
    if let Some((listener, identity)) = https {
        print_https(listener.local_addr()?, &identity.fingerprint);
        tokio::spawn(crate::http::serve::serve(
            listener,
            Some(identity.acceptor),
            router.clone(),
            gate.clone(),
            stop_rx.clone(),
        ));
    }
    let server = tokio::spawn(crate::http::serve::serve(
        listener, None, router, gate, stop_rx,
    ));

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(&controller, opts.config.as_deref()).await,
            _ = power_rx.changed() => break,
        }
    }
    let power = *power_rx.borrow();
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let c = controller.clone();
    tokio::task::spawn_blocking(move || c.shutdown()).await?;
    // Open connections (a player holding a keep-alive) must not hold the exit up.
    let _ = tokio::time::timeout(Duration::from_millis(500), server).await;
    // The fleet link has said goodbye (or given up after a second).
    let _ = tokio::time::timeout(Duration::from_secs(2), fleet).await;
    tracing::info!("stopped");
    let snapshot = controller.snapshot();
    if power == Power::FactoryReset {
        let dir = &data_dir;
        for file in ["store.redb", "device.key", "fleet.redb"] {
            match std::fs::remove_file(dir.join(file)) {
                Ok(()) => tracing::warn!("factory reset: erased {file}"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::error!("factory reset: cannot erase {file}: {e}"),
            }
        }
    }
    Ok((power, snapshot.config.board))
}

/// After a clean stop: the virtual board restarts this daemon in place (same process id,
/// same arguments); a real board reboots the machine.
fn restart(power: Power, board: &str, reboot_command: Option<&str>) -> ExitCode {
    if let Some(command) = reboot_command {
        let mut words = command.split_whitespace();
        let Some(program) = words.next() else {
            eprintln!("fourcastd: --reboot-command is empty");
            return ExitCode::FAILURE;
        };
        eprintln!("fourcastd: rebooting with {command}");
        return match std::process::Command::new(program).args(words).status() {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            other => {
                eprintln!("fourcastd: {command}: {other:?}");
                ExitCode::FAILURE
            }
        };
    }
    if crate::http::device::reboot_kind(board) == "restarts the daemon" {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            eprintln!("fourcastd: cannot find its own executable to restart");
            return ExitCode::FAILURE;
        };
        eprintln!("fourcastd: restarting ({power:?})");
        let e = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .exec();
        eprintln!("fourcastd: restart failed: {e}");
        return ExitCode::FAILURE;
    }
    match std::process::Command::new("systemctl")
        .arg("reboot")
        .status()
    {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        other => {
            eprintln!("fourcastd: systemctl reboot: {other:?}");
            ExitCode::FAILURE
        }
    }
}

/// The config to start with: the file given (if valid), else the stored revision, else
/// the virtual board's default.
/// Where the store and the device key live: the command line, else the config file's
/// `storage.data_dir` (even if the rest of the file is wrong), else the default.
fn data_dir_of(opts: &Options, file_text: Option<&str>) -> PathBuf {
    match (&opts.data_dir, file_text) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => Config::parse(t)
            .map(|c| c.storage.data_dir)
            .unwrap_or_else(|_| fourcast_config::Storage::default().data_dir),
        _ => fourcast_config::Storage::default().data_dir,
    }
}

fn initial_config(
    opts: &Options,
    file_text: Option<&str>,
    data_dir: &Path,
    overrides: &Overrides,
) -> anyhow::Result<(Config, Store, Arc<Vault>, String)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("data dir {}", data_dir.display()))?;
    // Only the box's own user reads its secrets, its store and its recordings.
    if let Err(e) = std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)) {
        tracing::warn!("cannot make {} private: {e}", data_dir.display());
    }
    let store = Store::open(&data_dir.join("store.redb"))?;
    let vault = Arc::new(Vault::open_or_create(&data_dir.join("device.key"))?);
    let stored = || -> anyhow::Result<Option<Config>> {
        let Some(rev) = store.current()? else {
            return Ok(None);
        };
        let mut c = crate::controller::secrets::decode_stored(&rev.text, &vault)
            .map_err(|e| anyhow::anyhow!("stored revision {}: {e}", rev.id))?;
        overrides.apply(&mut c);
        Ok(Some(c))
    };
    let from_file = match (&opts.config, file_text) {
        (Some(path), Some(text)) => Some(load_file(path, text, &vault, overrides)),
        _ => None,
    };
    let (config, source) = match from_file {
        Some(Ok(c)) => (c, "file"),
        Some(Err(e)) => match stored()? {
            Some(c) => {
                tracing::error!("config file rejected, running the last good revision:\n{e}");
                (c, "stored")
            }
            None => return Err(e),
        },
        None => match stored()? {
            Some(c) => (c, "stored"),
            None => {
                let mut c = fourcast_config::default_for_board(fourcast_board::DEFAULT_BOARD)?;
                overrides.apply(&mut c);
                (c, "default")
            }
        },
    };
    Ok((config, store, vault, source.into()))
}

fn load_file(
    path: &Path,
    text: &str,
    vault: &Vault,
    overrides: &Overrides,
) -> anyhow::Result<Config> {
    let fail = |e: fourcast_config::ConfigErrors| anyhow::anyhow!("{}:\n{e}", path.display());
    let mut c = Config::parse(text).map_err(fail)?;
    overrides.apply(&mut c);
    crate::controller::secrets::resolve(&mut c, vault, None).map_err(fail)?;
    c.validate().map_err(fail)?;
    fourcast_engine::Engine::check(&c).map_err(fail)?;
    Ok(c)
}

async fn reload(controller: &Controller, path: Option<&Path>) {
    let Some(path) = path else {
        tracing::warn!("SIGHUP: no --config file to reload");
        return;
    };
    let text = match tokio::fs::read_to_string(path).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("SIGHUP: cannot read {}: {e}", path.display());
            return;
        }
    };
    let c = controller.clone();
    let _ = tokio::task::spawn_blocking(move || c.change(&text, "reload")).await;
}

fn print_https(addr: SocketAddr, fingerprint: &str) {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    println!(
        "  https:   https://{host}:{}/   (self-signed; SHA-256 {fingerprint})",
        addr.port()
    );
}

fn print_urls(addr: SocketAddr, setup_code: Option<&str>) {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let base = format!("http://{host}:{}", addr.port());
    println!("fourcastd is live");
    match setup_code {
        Some(code) => println!(
            "  web UI:  {base}/   (first visit: set the admin password with the setup code {code}; there is no default)"
        ),
        None => println!("  web UI:  {base}/"),
    }
    println!("  HLS:     {base}/hls/master.m3u8");
    println!("  status:  {base}/api/v1/status   (signed in, or with an API token)");
    println!("  metrics: {base}/metrics   (with an API token)");
}
