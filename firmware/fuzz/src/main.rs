//! `fourcast-fuzz <target|all> [--seconds N]`: mutation fuzzing of the parsers of outside
//! input (see the library's documentation); prints executions and findings per target and
//! exits non-zero if any input panicked (saved as `corpus/<target>/crash-<hash>`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use fourcast_fuzz::{MAX_INPUT, Rng, TARGETS, Target, mutate, target, try_one};

fn corpus_dir(t: &Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(t.name)
}

fn load(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .map(|mut d| {
            d.truncate(MAX_INPUT);
            d
        })
        .collect()
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Fuzzes one target for `seconds`; returns the number of crashing inputs found.
fn fuzz(t: &Target, seconds: u64, seed: u64) -> usize {
    let dir = corpus_dir(t);
    let corpus = load(&dir);
    if corpus.is_empty() {
        eprintln!("{}: no corpus in {}", t.name, dir.display());
        return 1;
    }
    let mut rng = Rng::new(seed ^ fnv(t.name.as_bytes()));
    let until = Instant::now() + Duration::from_secs(seconds);
    let (mut runs, mut crashes) = (0u64, 0usize);
    while Instant::now() < until {
        let mut data = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(8) {
            mutate(&mut rng, &mut data, &corpus);
        }
        runs += 1;
        if let Err(message) = try_one(t, &data) {
            crashes += 1;
            let file = dir.join(format!("crash-{:016x}", fnv(&data)));
            if std::fs::write(&file, &data).is_ok() {
                eprintln!(
                    "{}: PANIC {message:?}, input saved as {}",
                    t.name,
                    file.display()
                );
            }
        }
    }
    println!(
        "{:<12} {:>10} runs in {seconds} s ({:>8.0}/s), {} corpus files, {crashes} crashing inputs",
        t.name,
        runs,
        runs as f64 / seconds.max(1) as f64,
        corpus.len()
    );
    crashes
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut which = None;
    let mut seconds = 60u64;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seconds" => {
                seconds = match args.get(i + 1).and_then(|s| s.parse().ok()) {
                    Some(s) => s,
                    None => {
                        eprintln!("--seconds needs a number");
                        return ExitCode::from(2);
                    }
                };
                i += 1;
            }
            "-h" | "--help" => {
                println!("fourcast-fuzz <target|all> [--seconds N]   (default 60 s per target)");
                for t in TARGETS {
                    println!("  {:<12} {}", t.name, t.what);
                }
                return ExitCode::SUCCESS;
            }
            other => which = Some(other.to_string()),
        }
        i += 1;
    }
    let chosen: Vec<&Target> = match which.as_deref() {
        None | Some("all") => TARGETS.iter().collect(),
        Some(name) => match target(name) {
            Some(t) => vec![t],
            None => {
                eprintln!("no target {name:?}; see --help");
                return ExitCode::from(2);
            }
        },
    };
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    println!("seed {seed}");
    // Panics are caught and reported per input; the default hook's message for each of
    // thousands of contained rml_rtmp panics would drown the report.
    std::panic::set_hook(Box::new(|_| {}));
    let crashes: usize = chosen.iter().map(|t| fuzz(t, seconds, seed)).sum();
    let contained = fourcast_fuzz::RTMP_PANICS_CONTAINED.load(std::sync::atomic::Ordering::Relaxed);
    if contained > 0 {
        println!(
            "rml_rtmp panicked on {contained} inputs, every one caught as the daemon catches it"
        );
    }
    if crashes == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
