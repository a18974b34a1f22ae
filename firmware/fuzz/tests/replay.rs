//! Every file of the fuzz corpus (seeds, and every input that ever crashed a target, kept
//! after its fix) goes through its target again: none may panic.

use std::path::Path;

#[test]
fn every_corpus_file_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut replayed = 0;
    for t in fourcast_fuzz::TARGETS {
        let dir = root.join(t.name);
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        assert!(!files.is_empty(), "{}: no corpus", t.name);
        for f in files {
            let data = std::fs::read(&f).unwrap();
            if let Err(message) = fourcast_fuzz::try_one(t, &data) {
                panic!("{} on {}: {message}", t.name, f.display());
            }
            replayed += 1;
        }
    }
    println!("{replayed} corpus files replayed");
}
