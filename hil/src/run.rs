//! Runs a scenario's steps against a target and measures, from outside, what the steps'
//! judgements ask for. A step that fails ends the run with its reason; the figures
//! measured before it are kept.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fourcast_e2e::peers::{Capture, Peer};

use crate::report::Outcome;
use crate::scenario::Step;
use crate::target::Target;
use crate::watch::Watch;

/// The first value of `recording.split_seconds`; config writes count up from it.
const FIRST_SPLIT: u64 = 600;

pub(crate) struct Session<'a> {
    pub(crate) target: &'a mut dyn Target,
    pub(crate) token: String,
    pub(crate) srt_port: u16,
    /// The port the fleet's broker listens on (the box's config names it).
    pub(crate) broker_port: u16,
    fleet: Option<Fleet>,
    /// A real box's scenario config, applied at its first power on.
    pub(crate) factory: Option<String>,
    pub(crate) work: PathBuf,
    rung: String,
    receiver: Option<Peer>,
    receivers: u32,
    watch: Option<Watch>,
    writes: Option<Writer>,
    /// Config values sent and acknowledged, over every run; the last run's count and the
    /// last refusal.
    sent: Vec<u64>,
    acked: Vec<u64>,
    last_writes: Option<usize>,
    refused: Option<String>,
    recording_since: Option<Instant>,
    recording_file: Option<String>,
    cut_at: Option<Instant>,
    /// The slot booted before the last update, and the one it went to.
    slots: Option<(String, String)>,
    mark: Option<Instant>,
    rss_first: Option<f64>,
    /// Whether the power is on.
    on: bool,
    /// How far into the receiver's capture `check_srt` has judged.
    srt_judged: u64,
}

type Step_ = Result<(), String>;

/// The box's id in the fleet (its certificate's CN, `hil/configs/fleet.toml`).
const BOX_ID: &str = "hil-box";

/// The tester's fleet side: the broker and the fleet manager following the box's events.
struct Fleet {
    broker: fourcast_e2e::broker::Mosquitto,
    follower: Option<std::process::Child>,
}

/// The config writer thread: its stop flag, its log, its handle.
type Writer = (
    Arc<AtomicBool>,
    Arc<Mutex<Writes>>,
    std::thread::JoinHandle<()>,
);

#[derive(Default)]
struct Writes {
    sent: Vec<u64>,
    acked: Vec<u64>,
    refused: Option<String>,
}

impl<'a> Session<'a> {
    pub(crate) fn new(
        target: &'a mut dyn Target,
        token: String,
        srt_port: u16,
        work: PathBuf,
    ) -> Self {
        Session {
            target,
            token,
            srt_port,
            work,
            factory: None,
            broker_port: 0,
            fleet: None,
            rung: String::new(),
            receiver: None,
            receivers: 0,
            watch: None,
            writes: None,
            sent: Vec::new(),
            acked: Vec::new(),
            last_writes: None,
            refused: None,
            recording_since: None,
            recording_file: None,
            cut_at: None,
            slots: None,
            mark: None,
            rss_first: None,
            on: false,
            srt_judged: 0,
        }
    }

    fn get(&mut self, path: &str) -> Result<fourcast_e2e::Response, String> {
        self.send("GET", path, b"")
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<fourcast_e2e::Response, String> {
        let bearer = format!("Bearer {}", self.token);
        fourcast_e2e::http_send(
            self.target.port(),
            method,
            path,
            &[("Authorization", &bearer)],
            body,
        )
        .map_err(|e| format!("{method} {path}: {e}"))
    }

    fn json(&mut self, path: &str) -> Result<serde_json::Value, String> {
        let r = self.get(path)?;
        if r.status != 200 {
            return Err(format!("GET {path}: {} {}", r.status, r.text()));
        }
        serde_json::from_slice(&r.body).map_err(|e| format!("GET {path}: {e}"))
    }

    /// Polls `check` (every 100 ms, the target ticking between) until `within_s` after
    /// `start`; the seconds from `start` it took.
    fn until(
        &mut self,
        what: &str,
        start: Instant,
        within_s: f64,
        mut check: impl FnMut(&mut Self) -> Result<bool, String>,
    ) -> Result<f64, String> {
        loop {
            self.target.tick()?;
            // A box that is rebooting answers nothing: that is not yet, not a failure.
            if check(self).unwrap_or(false) {
                // Judged when the answer arrived: an upper bound of when it became true.
                let took = start.elapsed().as_secs_f64();
                if took > within_s {
                    return Err(format!("{what}: took {took:.2} s (at most {within_s})"));
                }
                return Ok(took);
            }
            if start.elapsed().as_secs_f64() > within_s {
                return Err(format!("{what}: not within {within_s} s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Where a step's time counts from: with a figure, the last event (the power on, a
    /// cable, a receiver, a cap); without one, now.
    fn since(&self, figure: &Option<String>) -> Instant {
        match (figure, self.mark) {
            (Some(_), Some(mark)) => mark,
            _ => Instant::now(),
        }
    }

    fn newest_segment(&mut self) -> Option<u64> {
        let rung = self.rung.clone();
        let r = self.get(&format!("/hls/{rung}/index.m3u8")).ok()?;
        if r.status != 200 {
            return None;
        }
        crate::watch::segment_numbers(&r.text())?.last().copied()
    }

    fn measure(out: &mut Outcome, figure: &Option<String>, value: f64) {
        if let Some(name) = figure {
            out.figure(name, value);
        }
    }

    /// One step: an action on the box or the tester's side, or a judgement.
    pub(crate) fn step(&mut self, step: &Step, out: &mut Outcome) -> Step_ {
        match step {
            Step::PowerOn => self.power_on(),
            Step::PowerCut => self.power_cut(),
            Step::PowerCutRandom { within_s } => {
                std::thread::sleep(Duration::from_secs_f64(within_s * random_fraction()));
                self.power_cut()
            }
            Step::Wait { seconds } => {
                let end = Instant::now() + Duration::from_secs_f64(*seconds);
                while Instant::now() < end {
                    self.target.tick()?;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Ok(())
            }
            Step::PullInput { input } | Step::PlugInput { input } => {
                let plugged = matches!(step, Step::PlugInput { .. });
                let device = self.device_of(input)?;
                self.mark = Some(Instant::now());
                self.target.cable(&device, plugged)
            }
            Step::StartReceiver => self.start_receiver(),
            Step::KillReceiver => {
                if let Some(mut r) = self.receiver.take() {
                    r.kill();
                }
                self.mark = Some(Instant::now());
                Ok(())
            }
            Step::StartRecording => self.start_recording(),
            Step::ConfigWrites => {
                self.start_writes();
                Ok(())
            }
            Step::WatchHls => {
                self.watch = Some(Watch::start(self.target.port(), &self.token, &self.rung));
                Ok(())
            }
            Step::OtaUpload { firmware } => self.ota_upload(*firmware),
            Step::CapNetwork { kbps } => {
                self.shape(&format!(
                    "replace dev $dev root tbf rate {kbps}kbit burst 32kbit latency 300ms"
                ))?;
                self.mark = Some(Instant::now());
                Ok(())
            }
            Step::UncapNetwork => self.shape("del dev $dev root"),
            Step::StartBroker => self.start_broker(),
            Step::KillBroker => {
                if let Some(b) = self.fleet.as_mut() {
                    b.broker.kill();
                }
                self.mark = Some(Instant::now());
                Ok(())
            }
            Step::ResumeBroker => self.resume_broker(),
            _ => self.judge(step, out),
        }
    }

    /// The steps that measure and judge.
    fn judge(&mut self, step: &Step, out: &mut Outcome) -> Step_ {
        match step {
            Step::ExpectHls { within_s, figure } => {
                let since = self.since(figure);
                let before = self.newest_segment();
                let took = self.until("a new HLS segment", since, *within_s, |s| {
                    Ok(s.newest_segment()
                        .is_some_and(|n| Some(n) > before || before.is_none()))
                })?;
                Self::measure(out, figure, took);
                Ok(())
            }
            Step::ExpectSrt { within_s, figure } => {
                let since = self.since(figure);
                let before = self.receiver.as_ref().map_or(0, Peer::captured);
                let took = self.until("the SRT receiver's bytes", since, *within_s, |s| {
                    Ok(s.receiver
                        .as_ref()
                        .is_some_and(|r| r.captured() > before + 20_000))
                })?;
                Self::measure(out, figure, took);
                Ok(())
            }
            Step::ExpectInput {
                input,
                state,
                within_s,
                figure,
            } => {
                let since = self.since(figure);
                let took = self.until(&format!("{input} {state}"), since, *within_s, |s| {
                    let inputs = s.json("/api/v1/inputs")?;
                    Ok(find_input(&inputs, input).is_some_and(|i| i["state"] == state.as_str()))
                })?;
                Self::measure(out, figure, took);
                Ok(())
            }
            Step::CheckConfig => self.check_config(out),
            Step::CheckRecordings { max_loss_s } => self.check_recordings(*max_loss_s, out),
            Step::CheckHls { max_stall_s } => self.check_hls(*max_stall_s, out),
            Step::ExpectOta {
                phase,
                within_s,
                figure,
                message,
            } => self.expect_ota(phase, *within_s, message.as_deref(), figure, out),
            Step::ExpectSlot { slot } => self.expect_slot(slot),
            Step::ExpectCutInstall { within_s } => self.expect_cut_install(*within_s, out),
            Step::ExpectAdapted {
                uplink,
                below_kbps,
                within_s,
                figure,
            } => {
                let took = self.expect_adapted(uplink, *below_kbps, *within_s, figure)?;
                Self::measure(out, figure, took);
                Ok(())
            }
            Step::CheckSrt { max_gap_s } => self.check_srt(*max_gap_s, out),
            Step::CheckMemory { max_growth_mib } => self.check_memory(*max_growth_mib, out),
            Step::ExpectFleet {
                state,
                within_s,
                figure,
            } => {
                let since = self.since(figure);
                let took = self.until(&format!("fleet link {state}"), since, *within_s, |s| {
                    Ok(s.json("/api/v1/device")?["fleet"]["state"] == state.as_str())
                })?;
                Self::measure(out, figure, took);
                Ok(())
            }
            Step::CheckFleetEvents { kinds, within_s } => {
                self.check_fleet_events(kinds, *within_s, out)
            }
            Step::ExpectBoots { at_least } => {
                let boots = self.target.boots();
                out.figure("boots", f64::from(boots));
                if boots < *at_least {
                    return Err(format!("{boots} boots, at least {at_least} expected"));
                }
                Ok(())
            }
            other => Err(format!("{other:?} is not a judgement")),
        }
    }

    /// `tc qdisc ARGS` on the box's interface towards the tester (`$dev`).
    fn shape(&mut self, args: &str) -> Step_ {
        let tester = self.target.tester();
        self.target
            .sh(&format!(
                "dev=$(ip route get {tester} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'); tc qdisc {args}"
            ))
            .map(|_| ())
    }

    fn expect_adapted(
        &mut self,
        uplink: &str,
        below_kbps: u32,
        within_s: f64,
        figure: &Option<String>,
    ) -> Result<f64, String> {
        let since = self.since(figure);
        let what = format!("{uplink} under {below_kbps} kbit/s");
        let took = self.until(&what, since, within_s, |s| {
            let status = s.json("/api/v1/status")?;
            Ok(status["destinations"].as_array().is_some_and(|a| {
                a.iter().any(|d| {
                    d["name"] == uplink
                        && d["target_kbps"]
                            .as_u64()
                            .is_some_and(|k| k < u64::from(below_kbps))
                })
            }))
        });
        took.map_err(|e| {
            let now = self.json("/api/v1/status").unwrap_or_default();
            format!("{e}: {}", now["destinations"])
        })
    }

    fn start_broker(&mut self) -> Step_ {
        use fourcast_e2e::broker::{Mosquitto, Pki};
        let dir = self.work.join("fleet");
        let pki = Pki::new(&dir.join("pki"), "fleet-ca");
        let tester = self.target.tester();
        let broker = Mosquitto::start_on(
            &dir,
            &pki,
            self.broker_port,
            &[tester.as_str(), "127.0.0.1"],
        );
        let id = pki.issue(BOX_ID, false);
        for (name, file) in [
            ("box.crt", &id.cert),
            ("box.key", &id.key),
            ("ca.crt", &broker.ca),
        ] {
            let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
            self.target.put(&format!("fleet/{name}"), &bytes)?;
        }
        self.fleet = Some(Fleet {
            broker,
            follower: None,
        });
        Ok(())
    }

    fn resume_broker(&mut self) -> Step_ {
        let fleet = self
            .fleet
            .as_mut()
            .ok_or("resume_broker without start_broker")?;
        fleet.broker.resume();
        self.mark = Some(Instant::now());
        let events = self.work.join("fleet-events.jsonl");
        let file = std::fs::File::create(&events).map_err(|e| e.to_string())?;
        let child = fleet
            .broker
            .tool_command(&["events", "--device", BOX_ID, "--follow"])
            .stdout(file)
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("fourcast-fleet events: {e}"))?;
        fleet.follower = Some(child);
        Ok(())
    }

    fn check_fleet_events(&mut self, kinds: &[String], within_s: f64, out: &mut Outcome) -> Step_ {
        let since = self.mark.unwrap_or_else(Instant::now);
        let drained = self.until("the box's event queue drained", since, within_s, |s| {
            let fleet = s.json("/api/v1/device")?["fleet"].clone();
            Ok(fleet["state"] == "connected" && fleet["queued"] == 0)
        })?;
        out.figure("fleet_drained_s", drained);
        std::thread::sleep(Duration::from_secs(2));
        let fleet = self
            .fleet
            .as_mut()
            .ok_or("check_fleet_events without a broker")?;
        if let Some(mut f) = fleet.follower.take() {
            let _ = f.kill();
            let _ = f.wait();
        }
        let text =
            std::fs::read_to_string(self.work.join("fleet-events.jsonl")).unwrap_or_default();
        let events: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["event"].clone())
            .collect();
        let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
        let got: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
        out.figure("fleet_events_delivered", events.len() as f64);
        if seqs.len() != events.len() || !seqs.windows(2).all(|w| w[1] == w[0] + 1) {
            return Err(format!("events out of order or missing: seq {seqs:?}"));
        }
        for kind in kinds {
            if !got.contains(&kind.as_str()) {
                return Err(format!(
                    "no {kind} event reached the fleet manager: {got:?}"
                ));
            }
        }
        Ok(())
    }

    fn check_hls(&mut self, max_stall_s: f64, out: &mut Outcome) -> Step_ {
        let watch = self.watch.take().ok_or("check_hls without watch_hls")?;
        let (stall, missing, seen, watched) = watch.finish();
        out.figure("hls_longest_stall_s", stall);
        out.figure("hls_segments_seen", seen as f64);
        if !missing.is_empty() {
            return Err(format!(
                "HLS: segments {missing:?} were never listed ({seen} seen over {watched:.0} s)"
            ));
        }
        if stall > max_stall_s {
            return Err(format!("HLS stalled {stall:.1} s (at most {max_stall_s})"));
        }
        Ok(())
    }

    fn check_memory(&mut self, max_growth_mib: f64, out: &mut Outcome) -> Step_ {
        let rss = self.target.sh(
            "for p in $(pidof fourcastd fourcastd.real); do grep VmRSS /proc/$p/status; done \
             | awk '{s+=$2} END {print s}'",
        )?;
        let mib = rss
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("VmRSS: {rss:?}"))?
            / 1024.0;
        let first = *self.rss_first.get_or_insert(mib);
        out.figure("rss_mib", mib);
        if mib - first > max_growth_mib {
            return Err(format!("the daemon grew from {first:.0} to {mib:.0} MiB"));
        }
        Ok(())
    }

    fn power_on(&mut self) -> Step_ {
        let start = Instant::now();
        self.target.power_on()?;
        // Boot times count from the power coming on, not from a box already on.
        if !self.on {
            self.mark = Some(start);
            self.on = true;
        }
        if self.token.is_empty() {
            let code = self.target.sh("cat /data/fourcast/setup-code")?;
            self.token = fourcast_e2e::claim(self.target.port(), code.trim(), "hil-board-password");
            self.target.sh("touch /data/fourcast/seeded && sync")?;
        }
        if let Some(text) = self.factory.take() {
            self.apply_outputs(&text)?;
        }
        if self.rung.is_empty() {
            let status = self.json("/api/v1/status")?;
            self.rung = status["rungs"][0]["name"]
                .as_str()
                .ok_or_else(|| format!("status names no rung: {status}"))?
                .to_string();
        }
        Ok(())
    }

    /// A real box keeps its own board, inputs and ladder: the scenario's config gives only
    /// its outputs (the uplink to the tester), recording and update policy.
    fn apply_outputs(&mut self, text: &str) -> Step_ {
        let config: toml::Table =
            toml::from_str(text).map_err(|e| format!("the scenario's config: {e}"))?;
        let mut patch = serde_json::Map::new();
        for key in ["outputs", "recording", "ota"] {
            if let Some(v) = config.get(key) {
                patch.insert(
                    key.into(),
                    serde_json::to_value(v).map_err(|e| e.to_string())?,
                );
            }
        }
        let revision = self.json("/api/v1/config")?["revision"].clone();
        let body = serde_json::json!({ "base_revision": revision, "patch": patch });
        let r = self.send("PATCH", "/api/v1/config", body.to_string().as_bytes())?;
        if r.status != 200 {
            return Err(format!(
                "applying the scenario's outputs: {} {}",
                r.status,
                r.text()
            ));
        }
        Ok(())
    }

    fn power_cut(&mut self) -> Step_ {
        self.target.power_cut()?;
        self.on = false;
        self.cut_at = Some(Instant::now());
        if let Some((stop, log, thread)) = self.writes.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
            let log = std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner()));
            self.sent.extend(log.sent);
            self.last_writes = Some(log.acked.len());
            self.acked.extend(log.acked);
            self.refused = log.refused;
        }
        Ok(())
    }

    fn device_of(&mut self, input: &str) -> Result<String, String> {
        let config = self.json("/api/v1/config")?;
        let inputs = config["config"]["inputs"]
            .as_array()
            .or_else(|| config["inputs"].as_array())
            .cloned()
            .unwrap_or_default();
        inputs
            .iter()
            .find(|i| i["name"] == input)
            .and_then(|i| i["device"].as_str().map(String::from))
            .ok_or_else(|| format!("no capture input {input:?} in the box's config"))
    }

    fn start_receiver(&mut self) -> Step_ {
        if let Some(r) = self.receiver.as_mut()
            && matches!(r.child.try_wait(), Ok(None))
        {
            return Ok(());
        }
        self.receivers += 1;
        self.srt_judged = 0;
        let capture = self.work.join(format!("srt-{}.ts", self.receivers));
        // A cloud origin: it takes the box again after each disconnect (a reboot, a cut).
        let mut cmd = std::process::Command::new("srt-live-transmit");
        cmd.args([
            "-q",
            &format!("srt://:{}?mode=listener", self.srt_port),
            "file://con",
        ]);
        self.receiver = Some(Peer::spawn(
            cmd,
            &capture,
            &capture.with_extension("log"),
            true,
        ));
        self.mark = Some(Instant::now());
        Ok(())
    }

    fn start_recording(&mut self) -> Step_ {
        let r = self.send("POST", "/api/v1/recording/start", b"")?;
        if r.status != 200 {
            return Err(format!("recording start: {} {}", r.status, r.text()));
        }
        let mut seen = None;
        self.until("the recording's first bytes", Instant::now(), 30.0, |s| {
            let r = s.json("/api/v1/status")?["recording"].clone();
            let ok = r["state"] == "recording" && r["file_bytes"].as_u64().unwrap_or(0) > 0;
            if ok {
                seen = Some((Instant::now(), r));
            }
            Ok(ok)
        })?;
        // The file holds from its first frame: its start is its duration before now.
        let (at, r) = seen.ok_or("no recording status")?;
        let held = Duration::from_secs_f64(r["file_duration_s"].as_f64().unwrap_or(0.0).max(0.0));
        self.recording_since = Some(at - held);
        self.recording_file = r["file"].as_str().map(String::from);
        Ok(())
    }

    /// A thread writes `recording.split_seconds` by revision (PATCH with
    /// `base_revision`), one value after another, noting each value before it is sent
    /// and each one the box acknowledged.
    fn start_writes(&mut self) {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Writes::default()));
        let (port, bearer) = (self.target.port(), format!("Bearer {}", self.token));
        let (s, w) = (stop.clone(), log.clone());
        let mut next = self.sent.iter().max().copied().unwrap_or(FIRST_SPLIT) + 1;
        let thread = std::thread::spawn(move || {
            let headers = [
                ("Authorization", bearer.as_str()),
                ("Content-Type", "application/json"),
            ];
            let mut revision = None;
            while !s.load(Ordering::Relaxed) {
                let base = match revision {
                    Some(r) => r,
                    None => {
                        let r =
                            fourcast_e2e::http_send(port, "GET", "/api/v1/config", &headers, b"");
                        let rev = r.ok().and_then(|r| {
                            serde_json::from_slice::<serde_json::Value>(&r.body).ok()?["revision"]
                                .as_u64()
                        });
                        match rev {
                            Some(r) => r,
                            None => {
                                std::thread::sleep(Duration::from_millis(100));
                                continue;
                            }
                        }
                    }
                };
                let body = serde_json::json!({
                    "base_revision": base,
                    "patch": { "recording": { "split_seconds": next } },
                });
                // Sent: it may be stored even if the answer never comes (the cut).
                w.lock().unwrap_or_else(|e| e.into_inner()).sent.push(next);
                let r = fourcast_e2e::http_send(
                    port,
                    "PATCH",
                    "/api/v1/config",
                    &headers,
                    body.to_string().as_bytes(),
                );
                revision = None;
                let mut log = w.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(r) if r.status == 200 => {
                        log.acked.push(next);
                        revision = serde_json::from_slice::<serde_json::Value>(&r.body)
                            .ok()
                            .and_then(|v| v["revision"].as_u64());
                    }
                    Ok(r) => log.refused = Some(format!("{} {}", r.status, r.text())),
                    Err(e) => log.refused = Some(e.to_string()),
                }
                next += 1;
            }
        });
        self.writes = Some((stop, log, thread));
    }

    /// After a cut: the stored value is one the harness sent, and no older than the last
    /// one the box acknowledged (an acknowledged write is never lost).
    fn check_config(&mut self, out: &mut Outcome) -> Step_ {
        let config = self.json("/api/v1/config")?;
        let split = config["config"]["recording"]["split_seconds"]
            .as_u64()
            .ok_or_else(|| format!("the box's config has no recording.split_seconds: {config}"))?;
        let last_acked = self.acked.last().copied().unwrap_or(FIRST_SPLIT);
        if !self.sent.contains(&split) && split != FIRST_SPLIT {
            return Err(format!(
                "the stored config holds split_seconds {split}, never sent (sent up to {:?})",
                self.sent.last()
            ));
        }
        if split < last_acked {
            return Err(format!(
                "the box acknowledged split_seconds {last_acked} but came back with {split}: \
                 an acknowledged write was lost"
            ));
        }
        if let Some(writes) = self.last_writes.take() {
            out.figure("config_writes_acked", writes as f64);
            if writes == 0 {
                return Err(format!(
                    "no config write was acknowledged before the cut: {}",
                    self.refused.take().unwrap_or_default()
                ));
            }
        }
        let history = self.get("/api/v1/config/history")?;
        if history.status != 200 {
            return Err(format!("config history: {}", history.status));
        }
        Ok(())
    }

    fn check_recordings(&mut self, max_loss_s: f64, out: &mut Outcome) -> Step_ {
        let (Some(since), Some(cut)) = (self.recording_since, self.cut_at) else {
            return Err("check_recordings needs a recording and a power cut before it".into());
        };
        let file = self
            .recording_file
            .clone()
            .ok_or("no recording file was named")?;
        let list = self.json("/api/v1/recordings")?;
        let entry = list
            .as_array()
            .and_then(|l| l.iter().find(|e| e["file"] == file.as_str()).cloned())
            .ok_or_else(|| format!("{file} is not listed after the cut: {list}"))?;
        if entry["state"] == "recording" {
            return Err(format!(
                "{file} is still listed as recording after the cut: {entry}"
            ));
        }
        let local = self.work.join("cut.ts");
        self.target.fetch(&file, &local)?;
        let size = std::fs::metadata(&local).map(|m| m.len()).unwrap_or(0);
        if size < 188 * 10 {
            return Err(format!("{file} holds {size} bytes after the cut: {entry}"));
        }
        let capture = Capture::probe(&local);
        if !capture.decode_errors.is_empty() {
            return Err(format!("{file}: decode errors: {}", capture.decode_errors));
        }
        let recorded = (cut - since).as_secs_f64();
        let loss = recorded - capture.duration();
        out.figure("recording_loss_s", loss);
        if loss > max_loss_s {
            return Err(format!(
                "{file} plays {:.1} s of the {recorded:.1} s before the cut: {loss:.1} s lost ({entry})",
                capture.duration()
            ));
        }
        self.recording_since = None;
        Ok(())
    }

    fn check_srt(&mut self, max_gap_s: f64, out: &mut Outcome) -> Step_ {
        let receiver = self
            .receiver
            .as_ref()
            .ok_or("check_srt without a receiver")?;
        let bytes = std::fs::read(&receiver.capture).map_err(|e| e.to_string())?;
        // Whole TS packets since the last check.
        let from = (self.srt_judged as usize / 188) * 188;
        let part = &bytes[from.min(bytes.len())..];
        if part.len() < 188 * 100 {
            return Err(format!(
                "the receiver got {} bytes since the last check",
                part.len()
            ));
        }
        let file = self.work.join("srt-part.ts");
        std::fs::write(&file, part).map_err(|e| e.to_string())?;
        self.srt_judged = bytes.len() as u64;
        let capture = Capture::probe(&file);
        out.figure("srt_largest_gap_s", capture.largest_gap());
        if !capture.decode_errors.is_empty() {
            return Err(format!(
                "the SRT capture: decode errors: {}",
                capture.decode_errors
            ));
        }
        if capture.largest_gap() > max_gap_s {
            return Err(format!(
                "the SRT capture has a {:.2} s gap between frames (at most {max_gap_s})",
                capture.largest_gap()
            ));
        }
        Ok(())
    }

    fn ota_upload(&mut self, firmware: crate::scenario::Firmware) -> Step_ {
        let bundle = self.target.bundle(firmware)?;
        let bytes = std::fs::read(&bundle).map_err(|e| format!("{}: {e}", bundle.display()))?;
        let booted = self.booted_slot()?;
        let r = self.send("POST", "/api/v1/ota/bundle?install=now", &bytes)?;
        if !(200..300).contains(&r.status) {
            return Err(format!("bundle upload: {} {}", r.status, r.text()));
        }
        let other = if booted == "A" { "B" } else { "A" };
        self.slots = Some((booted, other.to_string()));
        Ok(())
    }

    fn expect_ota(
        &mut self,
        phase: &str,
        within_s: f64,
        message: Option<&str>,
        figure: &Option<String>,
        out: &mut Outcome,
    ) -> Step_ {
        // Waits for the phase asked for or an end (a job that ended otherwise fails now).
        let mut ended = String::new();
        let took = self.until(&format!("OTA job {phase}"), Instant::now(), within_s, |s| {
            let now = s.json("/api/v1/ota")?["job"]["phase"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let done =
                now == phase || ["failed", "succeeded", "rolled_back"].contains(&now.as_str());
            ended = now;
            Ok(done)
        });
        let job = self
            .json("/api/v1/ota")
            .map(|o| o["job"].clone())
            .unwrap_or_default();
        let took = took.map_err(|e| format!("{e}; the job: {job}"))?;
        if ended != phase {
            return Err(format!("the job ended {ended}, not {phase}: {job}"));
        }
        Self::measure(out, figure, took);
        if let Some(words) = message
            && !job.to_string().contains(words)
        {
            return Err(format!("the job does not say {words:?}: {job}"));
        }
        Ok(())
    }

    fn expect_cut_install(&mut self, within_s: f64, out: &mut Outcome) -> Step_ {
        let mut phase = String::new();
        self.until(
            "the cut install's job ended",
            Instant::now(),
            within_s,
            |s| {
                phase = s.json("/api/v1/ota")?["job"]["phase"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                Ok(["failed", "succeeded", "rolled_back"].contains(&phase.as_str()))
            },
        )?;
        let job = self.json("/api/v1/ota")?["job"].clone();
        match phase.as_str() {
            "failed" if job.to_string().contains("cut short") => {
                out.figure("install finished before the cut", 0.0);
                self.expect_slot("old")
            }
            "succeeded" => {
                out.figure("install finished before the cut", 1.0);
                self.expect_slot("new")
            }
            _ => Err(format!(
                "a cut install ends failed (cut short) on the old slot or succeeded on the \
                 new one; the job: {job}"
            )),
        }
    }

    fn booted_slot(&mut self) -> Result<String, String> {
        let ota = self.json("/api/v1/ota")?;
        let slots = ota["slots"].as_array().cloned().unwrap_or_default();
        slots
            .iter()
            .find(|s| s["state"] == "booted")
            .and_then(|s| s["bootname"].as_str().map(String::from))
            .ok_or_else(|| format!("no booted slot in {ota}"))
    }

    /// Waits (a rollback reboots after it is reported) for the box to run `which` slot.
    fn expect_slot(&mut self, which: &str) -> Step_ {
        let (old, new) = self.slots.clone().ok_or("expect_slot before any update")?;
        let want = if which == "new" { new } else { old };
        let mut booted = String::new();
        self.until(
            &format!("the {which} slot ({want}) booted"),
            Instant::now(),
            180.0,
            |s| {
                booted = s.booted_slot()?;
                Ok(booted == want)
            },
        )
        .map_err(|e| format!("{e}: slot {booted} runs"))?;
        Ok(())
    }
}

fn find_input<'v>(inputs: &'v serde_json::Value, name: &str) -> Option<&'v serde_json::Value> {
    inputs
        .as_array()
        .or_else(|| inputs["inputs"].as_array())?
        .iter()
        .find(|i| i["name"] == name)
}

/// A fraction in [0.2, 1): when in a window a power cut lands (never right at its start).
fn random_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    0.2 + 0.8 * f64::from(nanos % 1000) / 1000.0
}
