//! The Yocto layer (`yocto/meta-fourcast`) held to the repository it builds, and to the rules
//! of `yocto-check-layer` that need no build: a dependency change cannot forget the layer.
//! (`make check-layer` runs oelint-adv over the recipes.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn layer() -> PathBuf {
    repo().join("yocto/meta-fourcast")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn the_recipes_crate_list_is_cargo_lock_exactly() {
    let lock: toml::Table = read(&repo().join("Cargo.lock")).parse().unwrap();
    let want: BTreeSet<(String, String, String)> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("source").is_some())
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap().to_string();
            assert_eq!(
                field("source"),
                "registry+https://github.com/rust-lang/crates.io-index",
                "{}: the layer fetches crates from crates.io only",
                field("name")
            );
            (field("name"), field("version"), field("checksum"))
        })
        .collect();
    let inc = read(&layer().join("recipes-fourcast/fourcastd/fourcastd-crates.inc"));
    let uris: BTreeSet<(String, String)> = inc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("crate://crates.io/"))
        .map(|l| {
            let (name, version) = l.trim_end_matches(" \\").split_once('/').unwrap();
            (name.to_string(), version.to_string())
        })
        .collect();
    // `SRC_URI[name-version.sha256sum]`: a version may itself hold a `-`, so keys are
    // compared whole.
    let sums: BTreeSet<(String, String)> = inc
        .lines()
        .filter_map(|l| l.strip_prefix("SRC_URI["))
        .map(|l| {
            let (key, value) = l.split_once(".sha256sum] = ").unwrap();
            (key.to_string(), value.trim_matches('"').to_string())
        })
        .collect();
    let want_uris: BTreeSet<(String, String)> = want
        .iter()
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    let missing: Vec<_> = want_uris.difference(&uris).collect();
    let extra: Vec<_> = uris.difference(&want_uris).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "fourcastd-crates.inc differs from Cargo.lock (run yocto/meta-fourcast/scripts/crates.py): \
         missing {missing:?}, not in Cargo.lock {extra:?}"
    );
    let want_sums: BTreeSet<(String, String)> = want
        .iter()
        .map(|(n, v, sum)| (format!("{n}-{v}"), sum.clone()))
        .collect();
    let wrong: Vec<_> = want_sums.symmetric_difference(&sums).collect();
    assert!(
        wrong.is_empty(),
        "every crate's SHA-256 is Cargo.lock's (run scripts/crates.py): {wrong:?}"
    );
    eprintln!("{} crates, each with Cargo.lock's checksum", want.len());
}

#[test]
fn the_web_ui_recipe_fetches_the_hls_js_the_lock_file_pins() {
    let lock: serde_json::Value =
        serde_json::from_str(&read(&repo().join("web-ui/package-lock.json"))).unwrap();
    let pinned = lock["packages"]["node_modules/hls.js"]["version"]
        .as_str()
        .unwrap();
    let recipe = read(&layer().join("recipes-fourcast/fourcast-web-ui/fourcast-web-ui_git.bb"));
    assert!(
        recipe.contains(&format!("HLSJS_VERSION = \"{pinned}\"")),
        "web-ui/package-lock.json pins hls.js {pinned}: update the recipe (and its sha256sum)"
    );
}

#[test]
fn the_layers_copies_match_the_repository() {
    assert_eq!(
        read(&layer().join("recipes-core/rauc/files/de.pengutronix.rauc.conf")),
        read(&repo().join("ota/dbus/de.pengutronix.rauc.conf")),
        "the layer's D-Bus policy is ota/dbus's"
    );
    // The pinned commit is one of this repository's.
    let source = read(&layer().join("recipes-fourcast/fourcast-source.inc"));
    let srcrev = source
        .lines()
        .find_map(|l| l.strip_prefix("SRCREV_fourcast = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("SRCREV_fourcast is set");
    let known = std::process::Command::new("git")
        .args(["-C"])
        .arg(repo())
        .args(["cat-file", "-e", &format!("{srcrev}^{{commit}}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        known,
        "SRCREV_fourcast {srcrev} is not a commit of this repository"
    );
}

#[test]
fn the_layer_keeps_the_rules_yocto_check_layer_checks_without_a_build() {
    let layer = layer();
    let readme = read(&layer.join("README.md"));
    for needed in ["Maintainer", "Patches", "Dependencies", "SECURITY.md"] {
        assert!(readme.contains(needed), "README.md names its {needed}");
    }
    assert!(
        layer.join("SECURITY.md").is_file(),
        "SECURITY.md (how to report a vulnerability)"
    );
    let conf = read(&layer.join("conf/layer.conf"));
    assert!(
        conf.lines()
            .any(|l| l.starts_with("LAYERSERIES_COMPAT_fourcast = \"wrynose")),
        "LAYERSERIES_COMPAT names the release: {conf}"
    );
    let mut all = Vec::new();
    files(&layer, &mut all);
    let mut recipes = 0;
    for path in &all {
        let name = path.to_string_lossy();
        let text = read(path);
        if name.ends_with(".patch") {
            assert!(
                text.contains("Upstream-Status:"),
                "{name}: every patch says its Upstream-Status"
            );
        }
        if name.ends_with(".bb") || name.ends_with(".bbappend") || name.ends_with(".inc") {
            recipes += 1;
            // Nothing is fetched after do_fetch: no task asks for the network, and no task
            // body downloads for itself.
            assert!(
                !text.contains("[network]"),
                "{name}: a task with network access"
            );
            for fetcher in [
                "wget ",
                "curl ",
                "git clone",
                "npm install",
                "npm ci",
                "pip install",
                "cargo fetch",
            ] {
                assert!(
                    !text.contains(fetcher),
                    "{name}: `{fetcher}` in a task fetches outside do_fetch"
                );
            }
        }
    }
    assert!(recipes >= 6, "the layer's recipes were found: {recipes}");
    // Every board's kas file builds on the common one and names a machine.
    let kas: Vec<_> = all
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "common.yml"))
        .collect();
    for board in [
        "rock5b",
        "imx8mp",
        "orin",
        "rpi5",
        "qemuarm64",
        "qemux86-64",
    ] {
        let file = kas
            .iter()
            .find(|p| {
                p.to_string_lossy()
                    .ends_with(&format!("fourcast-{board}.yml"))
            })
            .unwrap_or_else(|| panic!("kas/fourcast-{board}.yml"));
        let text = read(file);
        assert!(
            text.contains("- common.yml"),
            "{board}: includes common.yml"
        );
        assert!(text.contains("\nmachine: "), "{board}: names its machine");
    }
}
