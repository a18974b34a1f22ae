//! Embeds the built web UI (`web-ui/dist`, made by `npm run build` there; `make` does it)
//! into the daemon, so the box serves every byte of its UI itself and one binary carries
//! a matching UI.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // A build system that makes the web UI apart (the Yocto layer's `fourcast-web-ui`) says
    // where it is; otherwise the workspace's own `web-ui/dist`.
    println!("cargo:rerun-if-env-changed=FOURCAST_WEB_UI_DIST");
    let dist = std::env::var_os("FOURCAST_WEB_UI_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../web-ui/dist"));
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    if dist.join("index.html").exists() {
        walk(&dist, &mut files);
    } else {
        panic!(
            "{} is missing: build the web UI first (`make web`, or `npm ci && npm run build` in web-ui/)",
            dist.display()
        );
    }
    files.sort();
    let mut out = String::from(
        "/// (URL path, content, gzip of it or empty, ETag)\npub(crate) static ASSETS: &[(&str, &[u8], &[u8], &str)] = &[\n",
    );
    for file in files
        .iter()
        .filter(|f| f.extension().is_none_or(|e| e != "gz"))
    {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file.strip_prefix(&dist).expect("under dist");
        let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
        let body = std::fs::read(file).expect("readable");
        let gz = file.with_extension(format!(
            "{}.gz",
            file.extension()
                .map(|e| e.to_string_lossy())
                .unwrap_or_default()
        ));
        let gz_expr = if gz.exists() {
            format!("include_bytes!({:?})", gz.canonicalize().expect("exists"))
        } else {
            "&[]".to_string()
        };
        let _ = writeln!(
            out,
            "    ({url:?}, include_bytes!({:?}), {gz_expr}, \"\\\"{:016x}\\\"\"),",
            file.canonicalize().expect("exists"),
            fnv64(&body)
        );
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("web_assets.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
