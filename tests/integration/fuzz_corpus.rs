//! The fuzz corpus and every input that ever crashed a fuzz target, replayed on stable through the
//! same entry points as the targets (`fuzz/src/lib.rs`): none may panic or break an assertion.

#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// The files under `fuzz/<kind>/<target>/` (none if the folder does not exist).
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_crash_input_is_handled() {
    for (target, run) in harness::TARGETS {
        let corpus = inputs("corpus", target);
        assert!(!corpus.is_empty(), "no seed corpus for {target}");
        for file in corpus.iter().chain(&inputs("regressions", target)) {
            let data = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} panicked on {}", file.display());
        }
    }
}
