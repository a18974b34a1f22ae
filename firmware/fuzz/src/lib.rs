//! Fuzz targets: every parser of outside input, each a function that must return (an
//! error is fine) and never panic, hang or abort, whatever the bytes.
//!
//! `fourcast-fuzz <target|all> --seconds N` (`make fuzz`) mutates the corpus in
//! `firmware/fuzz/corpus/<target>/` at random (bit flips, byte changes, insertions,
//! deletions, splices with other corpus files) for N seconds per target and saves any
//! input that panics there as `crash-…`; `cargo test -p fourcast-fuzz` (part of
//! `make test`) replays every corpus file. Random mutation, not coverage-guided: stable
//! Rust here has no sanitizer coverage, so the seeds are chosen to reach deep (whole
//! config documents, real TS packets, a signed URL, RTMP chunk headers).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

/// Panics inside rml_rtmp that the daemon's guard contains (see [`TARGETS`]' `rtmp-chunks`).
pub static RTMP_PANICS_CONTAINED: AtomicU64 = AtomicU64::new(0);

/// One parser and how to feed it bytes.
pub struct Target {
    pub name: &'static str,
    /// What it parses, for `--help` and reports.
    pub what: &'static str,
    pub run: fn(&[u8]),
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "config-toml",
        what: "a config document as TOML (file, reload, `PUT /api/v1/config` as toml)",
        run: config_toml,
    },
    Target {
        name: "config-json",
        what: "a config document as JSON (`PUT`/`PATCH /api/v1/config`)",
        run: config_json,
    },
    Target {
        name: "ts-scan",
        what: "MPEG-TS as the recordings index reads it (durations, repair)",
        run: ts_scan,
    },
    Target {
        name: "flv-setup",
        what: "FLV video/audio tag bodies from an RTMP publisher (codec setup detection)",
        run: flv_setup,
    },
    Target {
        name: "rtmp-chunks",
        what: "RTMP chunks after the handshake (rml_rtmp's server session)",
        run: rtmp_chunks,
    },
    Target {
        name: "fleet-message",
        what: "an MQTT payload on a box's fleet topics (desired config, commands), through the agent",
        run: fleet_message,
    },
    Target {
        name: "hls-url",
        what: "a signed HLS URL's path and query (`/hls/s/<expiry>/<mac>/…`)",
        run: hls_url,
    },
];

pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn config_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = fourcast_config::Config::from_toml(&text) {
        // What parses must serialise and parse back to itself.
        let back = fourcast_config::Config::from_toml(&c.to_toml());
        assert!(back.is_ok(), "a valid config does not read back: {back:?}");
    }
}

fn config_json(data: &[u8]) {
    if let Ok(c) = serde_json::from_slice::<fourcast_config::Config>(data) {
        let _ = c.validate();
        let json = serde_json::to_vec(&c).expect("a Config serialises");
        let back = serde_json::from_slice::<fourcast_config::Config>(&json);
        assert!(back.is_ok(), "a parsed config does not read back: {back:?}");
    }
}

fn ts_scan(data: &[u8]) {
    let s = fourcast_media_core::ts_scan::scan(data);
    assert!(
        s.whole_len <= data.len() as u64,
        "whole length past the end"
    );
    assert!(
        s.duration_s.is_finite() && s.duration_s >= 0.0,
        "{}",
        s.duration_s
    );
}

fn flv_setup(data: &[u8]) {
    if let Some((tag, body)) = data.split_first() {
        let _ = fourcast_media_core::flv::is_setup(*tag, body);
    }
}

/// The daemon hands RTMP bytes to rml_rtmp inside `catch_unwind` (its 0.8 deserializer
/// panics on some crafted chunks, a known bug the daemon contains); what must never
/// happen is an abort or a hang, which nothing can contain. So a panic here is counted,
/// not a failure.
fn rtmp_chunks(data: &[u8]) {
    use rml_rtmp::sessions::{ServerSession, ServerSessionConfig};
    let Ok((mut session, _)) = ServerSession::new(ServerSessionConfig::new()) else {
        return;
    };
    if catch_unwind(AssertUnwindSafe(|| session.handle_input(data))).is_err() {
        RTMP_PANICS_CONTAINED.fetch_add(1, Ordering::Relaxed);
    }
}

/// The first byte picks the topic (a command or the desired config), the rest is the
/// payload. Every refusal must be an answer, never a panic; whatever the agent asks to do
/// must be a message within the protocol's size.
fn fleet_message(data: &[u8]) {
    use fourcast_fleet::agent::{Action, Agent, Setup};
    let Ok(topics) = fourcast_fleet::topic::Topics::new("fuzz", "box") else {
        return;
    };
    let setup = Setup {
        topics,
        firmware: "0".into(),
        boot_id: "b".into(),
        session: 1,
        telemetry_every_ms: 1_000,
        tags: Vec::new(),
        queue_events: 10,
        queue_bytes: 4096,
    };
    let mut agent = Agent::new(setup, 1, Vec::new(), None);
    let (pick, payload) = data.split_first().unwrap_or((&0, &[]));
    let topic = match pick % 3 {
        0 => "fourcast/v1/fuzz/box/config/desired",
        1 => "fourcast/v1/fuzz/box/cmd/take",
        _ => "fourcast/v1/fuzz/box/cmd/x",
    };
    for a in agent.message(
        1_000,
        topic,
        payload,
        Some("fourcast/v1/fuzz/_fleet/t/responses"),
        None,
    ) {
        if let Action::Publish { payload, .. } = a {
            assert!(
                payload.len() <= fourcast_fleet::MAX_PAYLOAD,
                "an answer over the limit"
            );
        }
    }
}

fn hls_url(data: &[u8]) {
    const KEY: &[u8] = b"fuzz-key-0123456789abcdef";
    let rest = String::from_utf8_lossy(data);
    if let Ok(path) = fourcast_auth::hls_url::verify(KEY, &rest, 1_800_000_000) {
        assert!(rest.ends_with(path), "the path comes from the URL");
    }
}

/// Runs `data` through `target`; the panic message if it panicked.
pub fn try_one(target: &Target, data: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| (target.run)(data))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

/// A small, fast pseudo-random generator (xorshift64*); the fuzzer needs no more.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Inputs are kept under this size: parsers see documents, chunks and segments, not disks.
pub const MAX_INPUT: usize = 64 * 1024;

/// One random change to `data` (`others` are the rest of the corpus, for splicing).
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    let interesting: [u8; 8] = [0, 1, 0x7f, 0x80, 0xff, b'"', b'[', b'='];
    match rng.below(7) {
        0 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] ^= 1 << rng.below(8);
        }
        1 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] = interesting[rng.below(interesting.len())];
        }
        2 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] = rng.next_u64() as u8;
        }
        3 if data.len() < MAX_INPUT => {
            let i = rng.below(data.len() + 1);
            let n = 1 + rng.below(8);
            for _ in 0..n {
                data.insert(i, rng.next_u64() as u8);
            }
        }
        4 if !data.is_empty() => {
            let i = rng.below(data.len());
            let n = (1 + rng.below(16)).min(data.len() - i);
            data.drain(i..i + n);
        }
        5 if !others.is_empty() => {
            let other = &others[rng.below(others.len())];
            if !other.is_empty() {
                let from = rng.below(other.len());
                let to = from + rng.below(other.len() - from + 1);
                let at = rng.below(data.len() + 1);
                data.splice(at..at, other[from..to].iter().copied());
                data.truncate(MAX_INPUT);
            }
        }
        _ if !data.is_empty() => {
            // Repeat a slice: long runs find length and counter bugs.
            let i = rng.below(data.len());
            let n = (1 + rng.below(32)).min(data.len() - i);
            let copy: Vec<u8> = data[i..i + n].to_vec();
            for _ in 0..1 + rng.below(8) {
                if data.len() + n > MAX_INPUT {
                    break;
                }
                data.extend_from_slice(&copy);
            }
        }
        _ => data.push(rng.next_u64() as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_stays_bounded_and_changes_something() {
        let mut rng = Rng::new(7);
        let seed = b"[program]\nwidth = 1280\n".to_vec();
        let mut changed = 0;
        for _ in 0..1000 {
            let mut d = seed.clone();
            mutate(&mut rng, &mut d, std::slice::from_ref(&seed));
            assert!(d.len() <= MAX_INPUT);
            changed += usize::from(d != seed);
        }
        assert!(
            changed > 900,
            "{changed} of 1000 mutations changed the input"
        );
    }

    #[test]
    fn a_panicking_target_is_reported_with_its_message() {
        let t = Target {
            name: "x",
            what: "x",
            run: |d| assert!(d.is_empty(), "not empty"),
        };
        assert_eq!(try_one(&t, b""), Ok(()));
        assert_eq!(try_one(&t, b"a"), Err("not empty".into()));
    }
}
