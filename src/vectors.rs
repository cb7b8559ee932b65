//! Test vectors the doctor's page checks itself against (`web/doctor/test/*-vectors.json`): the
//! Rust side writes them, and a test fails when the file in the repository no longer matches.

/// Asserts that `file` (relative to the crate) holds `vectors` as pretty JSON; with
/// `PRAXISKIOSK_WRITE_VECTORS=1` it writes them first.
pub(crate) fn assert_file_holds(file: &str, vectors: &serde_json::Value) {
    let text = serde_json::to_string_pretty(vectors).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    if std::env::var("PRAXISKIOSK_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        text,
        "{file} is out of date: rewrite it with PRAXISKIOSK_WRITE_VECTORS=1"
    );
}
