//! The doctor's join link, read by two parsers: `wire::JoinLink::parse` (`kioskctl doctor
//! --link`) and the page's `parseJoinLink` (web/doctor/link.js), which runs here for real in a
//! `node` child (`join_oracle.mjs`), fed every input over a pipe. The checks:
//!
//! - nothing panics, and a parsed link written out again (`to_url`) parses to the same link;
//! - what the page takes, the Rust side takes, with the same fields and the same key;
//! - what the Rust side takes, the page takes too, unless the page refuses only the broker or
//!   the root: those two the page checks itself (a WebSocket URL, loopback for plain `ws:`),
//!   while `kioskctl doctor` checks the broker when it connects.
//!
//! A differential check in one process, rather than a port of link.js into Rust: the page's
//! own code is the oracle, so the two cannot drift apart behind a copy.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use praxiskiosk::wire::JoinLink;
use serde_json::{Value, json};

/// The fields the page checks and `JoinLink::parse` leaves to its callers.
const PAGE_ONLY: [&str; 2] = ["broker", "root"];

#[derive(Debug)]
struct Oracle {
    _child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

fn repo_root() -> PathBuf {
    // The fuzz package's manifest is tests/fuzz; the main package's (`cargo test --test fuzz`)
    // is the repository's.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if dir.join("web/doctor/link.js").exists() {
        dir.to_path_buf()
    } else {
        dir.join("../..")
    }
}

fn oracle() -> &'static Mutex<Oracle> {
    static ORACLE: OnceLock<Mutex<Oracle>> = OnceLock::new();
    ORACLE.get_or_init(|| {
        let script = repo_root().join("tests/fuzz/join_oracle.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("node {} (make deps installs node): {e}", script.display()));
        let input = child.stdin.take().expect("piped");
        let output = BufReader::new(child.stdout.take().expect("piped"));
        Mutex::new(Oracle {
            _child: child,
            input,
            output,
        })
    })
}

/// The page's verdict on `hash` (the fragment with its `#`, as `location.hash` has it).
fn page(hash: &str) -> Value {
    let mut oracle = oracle().lock().unwrap_or_else(|p| p.into_inner());
    let line = format!("{}\n", Value::String(hash.into()));
    oracle
        .input
        .write_all(line.as_bytes())
        .expect("writing to the page's parser");
    let mut answer = String::new();
    oracle
        .output
        .read_line(&mut answer)
        .expect("reading the page's parser");
    serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("the page's parser said {answer:?}: {e}"))
}

fn fields(link: &JoinLink) -> Value {
    json!({
        "broker": link.broker, "root": link.root, "device": link.device, "session": link.session,
        "username": link.username, "password": link.password,
        "key": link.key.as_ref().map(|k| k.to_base64url()),
    })
}

pub fn check(data: &[u8]) {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    let rust = JoinLink::parse(url);
    if let Ok(link) = &rust {
        let again = JoinLink::parse(&link.to_url("https://praxis.example/doctor/"));
        assert_eq!(again.as_ref(), Ok(link), "to_url does not round-trip");
    }
    // Without a `#` the page has no link to read (its location.hash is empty).
    let Some((_, fragment)) = url.split_once('#') else {
        return;
    };
    let page = page(&format!("#{fragment}"));
    match (&rust, page["ok"].as_bool()) {
        (Ok(link), Some(true)) => assert_eq!(fields(link), page["join"], "{url:?}"),
        (Err(e), Some(true)) => panic!("the page takes {url:?}, kioskctl refuses it: {e}"),
        (Ok(_), _) => {
            let page_only = page["invalid"].as_array().is_some_and(|invalid| {
                !invalid.is_empty()
                    && invalid
                        .iter()
                        .all(|name| PAGE_ONLY.iter().any(|only| name == *only))
            });
            assert!(
                page_only,
                "kioskctl takes {url:?}, the page refuses it: {page}"
            );
        }
        (Err(_), _) => {}
    }
}
