//! Runs every committed input of `fuzz/corpus/<target>/` (seeds, and every crash a fuzzer found,
//! kept as a regression) through its target. What `.ci/run` checks when it cannot fuzz.

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, target) in keyshift_fuzz_targets::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        inputs.sort();
        assert!(inputs.len() >= 3, "{name}: seed corpus missing");
        for path in inputs {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name} fails on {}", path.display());
        }
    }
}

/// The seeds reach the operations themselves: `$API`, `$KEY_ID` and `$KEY` stand for a real api,
/// key id and key, so a seed is answered 200, not 404 or 400.
#[test]
fn seeds_reach_past_validation_into_the_operations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/server_request");
    for seed in [
        "seed-04-VerifyKey",
        "seed-03-CreateKey",
        "seed-06-GetKey",
        "seed-12-SetPermissions",
    ] {
        let data = std::fs::read(root.join(seed)).unwrap();
        let (op, status, answer) = keyshift_fuzz_targets::server_answer(&data).unwrap();
        assert_eq!(status, 200, "{seed} ({op:?}): {answer}");
    }
}
