//! `fourcastd` on the command line: check-config, default-config, a bad config at start.

use std::process::Command;

use fourcast_e2e::{TempDir, default_config, fourcastd, free_port};

fn check(doc: &str) -> (i32, String) {
    let dir = TempDir::new("check");
    let f = dir.0.join("c.toml");
    std::fs::write(&f, doc).unwrap();
    let out = Command::new(fourcastd())
        .arg("check-config")
        .arg(&f)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_config_accepts_the_default_and_names_every_bad_field() {
    let good = default_config(|_| {});
    assert_eq!(check(&good).0, 0);
    let (code, out) = check(&good.replacen("bitrate_kbps = 800", "bitrate_kbps = -800", 1));
    assert_eq!(code, 1);
    assert!(out.contains("ladder.rungs[2].bitrate_kbps"), "{out}");
    let (code, out) = check(&good.replacen("encoder = \"auto\"", "encoder = \"nosuchenc\"", 1));
    assert_eq!(code, 1);
    assert!(
        out.contains("ladder.encoder") && out.contains("nosuchenc"),
        "{out}"
    );
    let (code, out) = check(&good.replacen("fps = 30", "fps = 0", 1).replacen(
        "window = 6",
        "window = 99",
        1,
    ));
    assert_eq!(code, 1);
    assert!(
        out.contains("program.fps") && out.contains("outputs.hls.window"),
        "{out}"
    );
}

#[test]
fn default_config_prints_a_document_check_config_accepts() {
    let out = Command::new(fourcastd())
        .arg("default-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("board = \"virtual\""), "{text}");
    assert_eq!(check(&text).0, 0);
    let out = Command::new(fourcastd())
        .args(["default-config", "--board", "rk3588"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("bitrate_kbps = 5000"));
    let out = Command::new(fourcastd())
        .args(["default-config", "--board", "pi5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn run_with_a_bad_config_and_nothing_stored_exits_naming_the_field() {
    let dir = TempDir::new("badstart");
    let f = dir.0.join("c.toml");
    std::fs::write(
        &f,
        default_config(|_| {}).replacen("segment_seconds = 2", "segment_seconds = 0", 1),
    )
    .unwrap();
    let out = Command::new(fourcastd())
        .arg("run")
        .arg("--config")
        .arg(&f)
        .arg("--data-dir")
        .arg(dir.0.join("data"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outputs.hls.segment_seconds"), "{err}");
}

#[test]
fn help_names_the_subcommands() {
    let out = Command::new(fourcastd()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["run", "check-config", "default-config"] {
        assert!(text.contains(sub), "{text}");
    }
}
