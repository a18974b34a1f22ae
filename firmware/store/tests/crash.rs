//! kill -9 during writes never leaves a corrupt store or a half-written revision.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use fourcast_store::Store;

fn check_payload(text: &str) -> Result<u64, String> {
    let (head, body) = text.split_once('\n').ok_or("no header line")?;
    let mut parts = head.split(' ');
    let (Some("rev"), Some(n), Some(len)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("bad header {head:?}"));
    };
    let n: u64 = n.parse().map_err(|_| "bad n")?;
    let len: usize = len.parse().map_err(|_| "bad len")?;
    let ch = (b'a' + (n % 26) as u8) as char;
    if body.len() != len || body.chars().any(|c| c != ch) {
        return Err(format!(
            "revision {n}: body of {} bytes, expected {len} × {ch}",
            body.len()
        ));
    }
    Ok(n)
}

#[test]
fn sigkill_mid_write_never_corrupts_the_store() {
    let dir = std::env::temp_dir().join(format!("fourcast-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.redb");
    let mut committed_before = 0u64;
    let rounds = 40;
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fourcast-store-writer"))
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("writer starts");
        // Wait for its first commit, then let it run into the middle of later ones.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("writer printed").expect("utf-8");
        assert!(first.starts_with("committed"), "{first}");
        std::thread::sleep(Duration::from_millis(3 + (round * 37 % 60)));
        // SAFETY-free: kill(2) through std's Child::kill sends SIGKILL.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success());
        drop(lines);

        let store = Store::open(&path).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let history = store
            .history()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        for r in &history {
            let n = check_payload(&r.text).unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(
                n, r.id,
                "round {round}: revision {} holds payload {n}",
                r.id
            );
        }
        let current = store.current().unwrap().expect("a current revision");
        assert_eq!(
            Some(&current),
            history.last(),
            "round {round}: current is the newest"
        );
        assert!(
            current.id > committed_before,
            "round {round}: the store went back from {committed_before} to {}",
            current.id
        );
        committed_before = current.id;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
