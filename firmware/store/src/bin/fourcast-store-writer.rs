//! Writes config revisions into a store as fast as it can, forever.
//!
//! Used by the store's crash test (`tests/crash.rs`), which kills it with SIGKILL mid-write
//! and checks what is left; also handy on a real board to exercise its flash.
//! Each revision's text is self-checking: `rev <n> <len>\n` followed by `len` bytes derived
//! from `n`, so a half-written revision cannot pass for a whole one.

use std::path::PathBuf;

fn main() {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: fourcast-store-writer STORE_FILE");
        std::process::exit(2);
    };
    let store = match fourcast_store::Store::open(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut n = store.current().ok().flatten().map(|r| r.id).unwrap_or(0);
    loop {
        n += 1;
        let text = fourcast_store_writer_payload(n);
        if let Err(e) = store.put(&text, "crash-test") {
            eprintln!("{e}");
            std::process::exit(1);
        }
        println!("committed {n}");
    }
}

/// Payload for counter `n`: sizes vary from a few bytes to ~256 KiB.
fn fourcast_store_writer_payload(n: u64) -> String {
    let len = ((n * 7919) % 262_144) as usize;
    let ch = (b'a' + (n % 26) as u8) as char;
    format!("rev {n} {len}\n{}", ch.to_string().repeat(len))
}
