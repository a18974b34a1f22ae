//! Real peers on loopback (or in a network namespace the test made): SRT receivers
//! (`srt-live-transmit`, `ffmpeg`), an RTMP server (nginx with `libnginx-mod-rtmp`), and a
//! judge for what they captured (`ffprobe`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails with what to install when a peer is missing (`make test` installs them all).
pub fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
        || Path::new(program).is_file();
    assert!(
        found,
        "{program} is not installed: apt-get install {package} (make test does this)"
    );
}

/// A UDP port nobody listens on right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// A process killed (SIGKILL) when dropped.
pub struct Peer {
    pub child: Child,
    pub capture: PathBuf,
    pub log: PathBuf,
}

impl Peer {
    pub fn spawn(mut cmd: Command, capture: &Path, log: &Path, capture_is_stdout: bool) -> Peer {
        let log_file = std::fs::File::create(log).expect("peer log");
        if capture_is_stdout {
            cmd.stdout(std::fs::File::create(capture).expect("capture file"));
        } else {
            cmd.stdout(Stdio::null());
        }
        cmd.stderr(log_file).stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
        Peer {
            child,
            capture: capture.to_path_buf(),
            log: log.to_path_buf(),
        }
    }

    /// Bytes captured so far.
    pub fn captured(&self) -> u64 {
        std::fs::metadata(&self.capture)
            .map(|m| m.len())
            .unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: the receiver vanishes without a goodbye, like a crashed origin.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGINT, so ffmpeg finishes its file.
    pub fn interrupt(&mut self) {
        // SAFETY: kill(2) on our own child with a valid signal.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `srt-live-transmit` listening on `port` (optionally inside network namespace `netns`),
/// writing what it receives to `capture`. `query` adds SRT options, e.g.
/// `passphrase=…&pbkeylen=32`.
pub fn srt_listener(port: u16, query: &str, capture: &Path, netns: Option<&str>) -> Peer {
    require("srt-live-transmit", "srt-tools");
    let mut uri = format!("srt://:{port}?mode=listener");
    if !query.is_empty() {
        uri = format!("{uri}&{query}");
    }
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "srt-live-transmit"]);
            c
        }
        None => Command::new("srt-live-transmit"),
    };
    cmd.args(["-q", "-a:no", &uri, "file://con"]);
    Peer::spawn(cmd, capture, &capture.with_extension("log"), true)
}

/// `srt-live-transmit` calling the box's SRT listener.
pub fn srt_caller(host: &str, port: u16, capture: &Path) -> Peer {
    require("srt-live-transmit", "srt-tools");
    let mut cmd = Command::new("srt-live-transmit");
    cmd.args(["-q", &format!("srt://{host}:{port}"), "file://con"]);
    Peer::spawn(cmd, capture, &capture.with_extension("log"), true)
}

/// `ffmpeg` as an SRT listener, remuxing to an MPEG-TS file.
pub fn ffmpeg_srt_listener(port: u16, query: &str, capture: &Path) -> Peer {
    require("ffmpeg", "ffmpeg");
    let mut uri = format!("srt://127.0.0.1:{port}?mode=listener");
    if !query.is_empty() {
        uri = format!("{uri}&{query}");
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-loglevel", "error", "-y", "-i", &uri])
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(capture);
    Peer::spawn(cmd, capture, &capture.with_extension("log"), false)
}

/// nginx with the RTMP module on `port`, one live application per name in `apps`, each
/// recording what is published to `<dir>/rec/<app>/`.
pub struct Nginx {
    pub peer: Peer,
    pub port: u16,
    pub dir: PathBuf,
}

impl Nginx {
    pub fn start(dir: &Path, apps: &[&str]) -> Nginx {
        require("nginx", "nginx libnginx-mod-rtmp");
        let module = Path::new("/usr/lib/nginx/modules/ngx_rtmp_module.so");
        assert!(
            module.is_file(),
            "{} is missing: apt-get install libnginx-mod-rtmp",
            module.display()
        );
        let port = crate::free_port();
        let mut applications = String::new();
        for app in apps {
            let rec = dir.join("rec").join(app);
            std::fs::create_dir_all(&rec).expect("record dir");
            applications += &format!(
                "    application {app} {{\n      live on;\n      record all;\n      record_path {};\n      record_unique on;\n    }}\n",
                rec.display()
            );
        }
        let conf = format!(
            "load_module {module};\ndaemon off;\nmaster_process off;\nworker_processes 1;\n\
             pid {dir}/nginx.pid;\nerror_log {dir}/error.log info;\nevents {{ worker_connections 64; }}\n\
             rtmp {{\n  server {{\n    listen 127.0.0.1:{port};\n    chunk_size 4096;\n{applications}  }}\n}}\n",
            module = module.display(),
            dir = dir.display(),
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let mut cmd = Command::new("nginx");
        cmd.arg("-p").arg(dir).arg("-c").arg(&conf_path);
        let peer = Peer::spawn(cmd, &dir.join("stdout"), &dir.join("nginx.out"), false);
        // Ready when it accepts TCP.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {port}: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Nginx {
            peer,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// The recordings of `app`, oldest first.
    pub fn recordings(&self, app: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("rec").join(app))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
    }
}

/// What a capture holds, judged by ffprobe and a full decode.
#[derive(Debug)]
pub struct Capture {
    pub video_codec: String,
    pub audio_codec: String,
    pub width: u64,
    pub height: u64,
    /// Video presentation times, seconds, in decode order.
    pub video_pts: Vec<f64>,
    /// What the decoder complained about (empty: clean).
    pub decode_errors: String,
}

impl Capture {
    pub fn probe(file: &Path) -> Capture {
        let streams = crate::ffprobe(file, &["-show_streams"]);
        let streams = streams["streams"].as_array().cloned().unwrap_or_default();
        let of = |kind: &str| {
            streams
                .iter()
                .find(|s| s["codec_type"] == kind)
                .cloned()
                .unwrap_or_default()
        };
        let (v, a) = (of("video"), of("audio"));
        let packets = Command::new("ffprobe")
            .args(["-v", "quiet", "-select_streams", "v:0", "-show_entries"])
            .args(["packet=pts_time", "-of", "csv=p=0"])
            .arg(file)
            .output()
            .expect("ffprobe runs");
        let video_pts: Vec<f64> = String::from_utf8_lossy(&packets.stdout)
            .lines()
            .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
            .collect();
        // A capture ends where its receiver was stopped, usually inside a frame: judge the
        // decode up to half a second before the end.
        let span = {
            let min = video_pts.iter().cloned().fold(f64::MAX, f64::min);
            let max = video_pts.iter().cloned().fold(f64::MIN, f64::max);
            (max - min - 0.5).max(0.0)
        };
        let decode = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(file)
            .args(["-t", &format!("{span:.3}"), "-f", "null", "-"])
            .output()
            .expect("ffmpeg runs");
        Capture {
            video_codec: v["codec_name"].as_str().unwrap_or_default().to_string(),
            audio_codec: a["codec_name"].as_str().unwrap_or_default().to_string(),
            width: v["width"].as_u64().unwrap_or(0),
            height: v["height"].as_u64().unwrap_or(0),
            video_pts,
            decode_errors: String::from_utf8_lossy(&decode.stderr).trim().to_string(),
        }
    }

    /// Seconds of video.
    pub fn duration(&self) -> f64 {
        let min = self.video_pts.iter().cloned().fold(f64::MAX, f64::min);
        let max = self.video_pts.iter().cloned().fold(f64::MIN, f64::max);
        if self.video_pts.is_empty() {
            0.0
        } else {
            max - min
        }
    }

    /// The largest step between consecutive video frames (sorted by time), seconds.
    pub fn largest_gap(&self) -> f64 {
        let mut pts = self.video_pts.clone();
        pts.sort_by(f64::total_cmp);
        pts.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
    }

    /// H.264 + AAC at the given size, decodes cleanly, no frame gap above `max_gap` s.
    pub fn assert_good(&self, what: &str, width: u64, height: u64, max_gap: f64) {
        assert_eq!(
            (self.video_codec.as_str(), self.audio_codec.as_str()),
            ("h264", "aac"),
            "{what}: codecs"
        );
        assert_eq!((self.width, self.height), (width, height), "{what}: size");
        assert!(
            self.decode_errors.is_empty(),
            "{what}: decode errors:\n{}",
            self.decode_errors
        );
        assert!(
            self.video_pts.len() > 30,
            "{what}: only {} frames",
            self.video_pts.len()
        );
        let gap = self.largest_gap();
        assert!(gap <= max_gap, "{what}: a {gap:.3} s gap between frames");
    }
}
