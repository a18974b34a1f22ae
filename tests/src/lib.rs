//! Harness for end-to-end tests: runs the real `fourcastd` binary on a free loopback port
//! with its own data directory, talks to it over HTTP, and judges output with `ffprobe`.

pub mod broker;
pub mod netns;
pub mod peers;
pub mod rauc;
pub mod vm;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The daemon binary: the release build, as users run it (`make test` builds it first, as
/// `make run` does); `FOURCASTD` names another.
pub fn fourcastd() -> PathBuf {
    if let Some(p) = std::env::var_os("FOURCASTD") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release/fourcastd");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p fourcastd` first (make test does)",
        bin.display()
    );
    bin
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p =
            std::env::temp_dir().join(format!("fourcast-e2e-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub data: TempDir,
    pub config_file: Option<PathBuf>,
    /// The admin password the harness set at first start.
    pub password: String,
    /// An API token the harness made; every request of `get`/`request` carries it.
    pub token: String,
}

impl Daemon {
    /// Starts the daemon (`config`: TOML for --config, or none for the board default) and
    /// waits until it answers HTTP.
    pub fn start(config: Option<&str>) -> Daemon {
        let data = TempDir::new("box");
        let config_file = config.map(|text| {
            let f = data.0.join("fourcast.toml");
            std::fs::write(&f, text).expect("write config");
            f
        });
        Daemon::spawn(data, free_port(), config_file, true, None, &[], &[])
    }

    /// Like [`Daemon::start`], with `wrapper` (a program and its arguments) in front of the
    /// daemon's command line: for example `unshare` to give it a mount namespace of its own.
    pub fn start_wrapped(config: &str, wrapper: &[String]) -> Daemon {
        let mut command = wrapper.to_vec();
        command.push(fourcastd().to_string_lossy().into_owned());
        Daemon::start_command(config, &command)
    }

    /// Like [`Daemon::start`], with `command` (a program and its arguments) as the daemon:
    /// for example another architecture's build under `qemu-aarch64-static`.
    pub fn start_command(config: &str, command: &[String]) -> Daemon {
        let data = TempDir::new("box");
        let f = data.0.join("fourcast.toml");
        std::fs::write(&f, config).expect("write config");
        Daemon::spawn(data, free_port(), Some(f), true, None, command, &[])
    }

    /// Like [`Daemon::start`], with more arguments after `run` (for example where RAUC is).
    pub fn start_args(config: &str, args: &[String]) -> Daemon {
        let data = TempDir::new("box");
        let f = data.0.join("fourcast.toml");
        std::fs::write(&f, config).expect("write config");
        Daemon::spawn(data, free_port(), Some(f), true, None, &[], args)
    }

    /// Like [`Daemon::restart`] (after the old process has exited: a reboot), with `args`
    /// after `run`.
    pub fn restart_args(mut old: Daemon, args: &[String]) -> Daemon {
        let _ = old.child.wait();
        let data = std::mem::replace(&mut old.data, TempDir(PathBuf::new()));
        let (port, config_file) = (old.port, old.config_file.take());
        let credentials = (old.password.clone(), old.token.clone());
        drop(old);
        Daemon::spawn(data, port, config_file, false, Some(credentials), &[], args)
    }

    /// Starts the daemon on the board default with no admin password set: the test does
    /// first-boot setup itself (as the browser test does).
    pub fn start_unset() -> Daemon {
        let none = Some((String::new(), String::new()));
        Daemon::spawn(TempDir::new("box"), free_port(), None, true, none, &[], &[])
    }

    /// Starts the daemon again on the same data dir and port, from its stored config
    /// (no --config), after the previous process has exited.
    pub fn restart(mut old: Daemon) -> Daemon {
        let _ = old.child.wait();
        let data = std::mem::replace(&mut old.data, TempDir(PathBuf::new()));
        let (port, config_file) = (old.port, old.config_file.take());
        let credentials = (old.password.clone(), old.token.clone());
        drop(old);
        Daemon::spawn(data, port, config_file, false, Some(credentials), &[], &[])
    }

    fn spawn(
        data: TempDir,
        port: u16,
        config_file: Option<PathBuf>,
        use_config: bool,
        credentials: Option<(String, String)>,
        command: &[String],
        extra: &[String],
    ) -> Daemon {
        let mut cmd = match command.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args);
                c
            }
            None => Command::new(fourcastd()),
        };
        cmd.arg("run")
            .arg("--data-dir")
            .arg(data.0.join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra);
        if let (Some(f), true) = (&config_file, use_config) {
            cmd.arg("--config").arg(f);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.0.join("daemon.log"))
            .expect("log file");
        cmd.stdout(Stdio::null()).stderr(log);
        let child = cmd.spawn().expect("fourcastd starts");
        let mut d = Daemon {
            child,
            port,
            data,
            config_file,
            password: String::new(),
            token: String::new(),
        };
        d.wait_until("the HTTP server answers", Duration::from_secs(30), |d| {
            http_get(d.port, "/api/v1/setup").is_ok()
        });
        match credentials {
            // The store keeps the password and the token across restarts.
            Some((password, token)) => (d.password, d.token) = (password, token),
            None => d.set_up(),
        }
        d
    }

    /// The one-time setup code, read where a technician with a shell (or the front panel)
    /// reads it.
    pub fn setup_code(&self) -> String {
        let file = self.data.0.join("data/setup-code");
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", file.display(), self.log()))
            .trim()
            .to_string()
    }

    /// First-boot setup as a technician would do it: set the admin password (which signs
    /// in), then make an API token for the rest of the test.
    fn set_up(&mut self) {
        self.password = format!("e2e-{}-{}", std::process::id(), self.port);
        let code = self.setup_code();
        self.token = claim(self.port, &code, &self.password);
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.0.join("daemon.log")).unwrap_or_default()
    }

    /// Polls `check` every 200 ms; panics with the daemon's log after `timeout`.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&mut Daemon) -> bool,
    ) {
        let start = Instant::now();
        loop {
            if check(self) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "fourcastd exited ({status}) while waiting for {what}:\n{}",
                    self.log()
                );
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn try_get(&self, path: &str) -> Option<Response> {
        http_request(self.port, "GET", path, &[("Authorization", &self.bearer())]).ok()
    }

    /// GET with the harness's API token.
    pub fn get(&self, path: &str) -> Response {
        self.try_get(path)
            .unwrap_or_else(|| panic!("GET {path} failed\n{}", self.log()))
    }

    pub fn status(&self) -> serde_json::Value {
        let r = self.get("/api/v1/status");
        assert_eq!(r.status, 200);
        serde_json::from_slice(&r.body).expect("status is JSON")
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill({sig})");
    }

    pub fn hls_dir(&self) -> PathBuf {
        self.data.0.join("data/hls")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal HTTP/1.1 GET on loopback (Connection: close), so the tests depend on no
/// HTTP client of the daemon's own stack.
pub fn http_get(port: u16, path: &str) -> std::io::Result<Response> {
    http_request(port, "GET", path, &[])
}

/// Any method, with extra headers, no body.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    http_send(port, method, path, headers, b"")
}

/// Any method, with extra headers and a body (sent as JSON when not empty).
pub fn http_send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    http_send_from(
        std::net::Ipv4Addr::LOCALHOST,
        port,
        method,
        path,
        headers,
        body,
    )
}

/// A TCP connection to the daemon on 127.0.0.1 from another loopback address (`127.0.0.2`
/// is another client, as far as the box can tell).
pub fn connect_from(source: std::net::Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket};
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let [a, b, c, d] = source.octets();
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::new(a, b, c, d, 0),
    )?;
    connect(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::new(127, 0, 0, 1, port),
    )?;
    Ok(TcpStream::from(fd))
}

/// One request from another loopback address (see [`connect_from`]).
pub fn http_send_from(
    source: std::net::Ipv4Addr,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    http_exchange(connect_from(source, port)?, method, path, headers, body)
}

/// Sends one request on `s` (`Connection: close`) and reads the whole response.
fn http_exchange(
    mut s: TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let kind = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n{kind}{extra}Connection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

/// Runs ffprobe on `file`; returns its JSON output. Panics (naming the file) on any error
/// ffprobe reports, decode errors included.
pub fn ffprobe(file: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(file)
        .output()
        .expect("ffprobe runs (make test installs ffmpeg)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffprobe {}: {stderr}",
        file.display()
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

/// The default virtual-board config as TOML, edited by `edit`.
pub fn default_config(edit: impl FnOnce(&mut fourcast_config::Config)) -> String {
    let mut c = fourcast_config::default_for_board("virtual").expect("virtual board");
    edit(&mut c);
    c.to_toml()
}

/// Makes a test camera of the default config show `pattern` instead.
pub fn show_pattern(input: &mut fourcast_config::Input, pattern: fourcast_config::Pattern) {
    match &mut input.source {
        fourcast_config::Source::Test { pattern: p, .. } => *p = pattern,
        other => panic!("{} is not a test camera: {other:?}", input.name),
    }
}

/// Parses a media playlist with m3u8-rs (an independent parser).
pub fn media_playlist(text: &str) -> m3u8_rs::MediaPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("not a media playlist: {other:?}\n{text}"),
    }
}

/// The virtual board's default config plus `outputs` (TOML with real secrets, which
/// `Config::to_toml` would redact).
pub fn config_with(outputs: &str) -> String {
    format!("{}\n{outputs}", default_config(|_| {}))
}

/// First-boot setup of the box on `port` with its setup `code` and `password`, then an
/// API token made in that session; returns the token.
pub fn claim(port: u16, code: &str, password: &str) -> String {
    let body = format!(r#"{{"password":"{password}","code":"{code}"}}"#);
    let r = http_send(port, "POST", "/api/v1/setup", &[], body.as_bytes())
        .unwrap_or_else(|e| panic!("setup: {e}"));
    assert_eq!(r.status, 201, "setup: {}", r.text());
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let csrf: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    let csrf = csrf["csrf"].as_str().expect("csrf").to_string();
    let r = http_send(
        port,
        "POST",
        "/api/v1/tokens",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        br#"{"name":"e2e"}"#,
    )
    .expect("token");
    assert_eq!(r.status, 201, "token: {}", r.text());
    let t: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    t["token"].as_str().expect("token").to_string()
}

/// A destination's entry in `/api/v1/status`.
pub fn destination<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["destinations"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("no destination {name} in {status}"))
}

impl Daemon {
    /// Waits until every named destination is live.
    pub fn wait_live(&mut self, names: &[&str], timeout: Duration) {
        self.wait_until(&format!("{names:?} live"), timeout, |d| {
            let s = d.status();
            names.iter().all(|n| destination(&s, n)["state"] == "live")
        });
    }

    /// Rewrites the config file and sends SIGHUP.
    pub fn reload(&self, text: &str) {
        let f = self.config_file.as_ref().expect("started with --config");
        std::fs::write(f, text).expect("write config");
        self.signal(libc::SIGHUP);
    }

    /// Any method with the harness's API token (and `headers`), no body.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send(method, path, headers, b"")
    }

    /// Any method with the harness's API token, `headers` and a body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let bearer = self.bearer();
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        http_send(self.port, method, path, &all, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        serde_json::from_slice(&self.get(path).body).expect("JSON")
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        serde_json::from_slice(&self.get("/api/v1/events").body).expect("events are JSON")
    }
}
