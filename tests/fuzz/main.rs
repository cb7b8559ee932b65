//! The fuzz corpus as regression inputs, in plain `cargo test`: every file under
//! `tests/fuzz/corpus/<target>/` and `tests/fuzz/regressions/<target>/` (the reproducers of
//! crashes `make fuzz` found) goes once through that target's checks, the same code libFuzzer
//! runs. A change that breaks a check on an input the fuzzer once reached fails here, in
//! seconds, without building the instrumented fuzzers.
//!
//! `cargo test --test fuzz -- --ignored write_seeds` writes the hand-made seeds and the test
//! fleet again (`seeds.rs`).

mod harness;
mod seeds;

use std::path::{Path, PathBuf};

fn files(target: &str) -> Vec<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(here.join(kind).join(target)) else {
            continue;
        };
        files.extend(entries.map(|e| e.expect("reading the corpus").path()));
    }
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, check) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a target of harness::TARGETS");
    let files = files(target);
    assert!(!files.is_empty(), "no corpus for {target}");
    for file in &files {
        let data = std::fs::read(file).expect("reading a corpus file");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{target}: {} fails its checks", file.display());
        }
    }
}

macro_rules! replay {
    ($($target:ident),*) => {$(
        #[test]
        fn $target() {
            replay(stringify!($target));
        }
    )*};
}

replay!(
    mqtt_inbound,
    signalling,
    flow,
    bundle_import,
    argon2_phc,
    join_link,
    topics
);

#[test]
fn every_target_is_replayed() {
    let names: Vec<_> = harness::TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "mqtt_inbound",
            "signalling",
            "flow",
            "bundle_import",
            "argon2_phc",
            "join_link",
            "topics"
        ]
    );
}
