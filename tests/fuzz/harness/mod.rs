//! The checks behind every fuzz target: each `check(data)` feeds one input to a part of
//! praxiskiosk and panics when the part panics or breaks one of its promises (the invariants
//! each module names). The same functions run under libFuzzer (`fuzz_targets/`, `make fuzz`)
//! and over the committed corpus as a plain test (`main.rs`, part of `cargo test`).
//!
//! Nothing here reaches the network; `bundle_import` writes only into a directory of its own
//! under /dev/shm (or the temp dir), and `join_link` talks to a `node` child over a pipe.

pub mod argon2_phc;
pub mod bundle_import;
pub mod flow;
pub mod join_link;
pub mod mqtt_inbound;
pub mod signalling;
pub mod topics;

/// A target's checks on one input: a panic is a finding.
pub type Check = fn(&[u8]);

/// Every target, by the name of its fuzz binary and its corpus folder.
pub const TARGETS: [(&str, Check); 7] = [
    ("mqtt_inbound", mqtt_inbound::check),
    ("signalling", signalling::check),
    ("flow", flow::check),
    ("bundle_import", bundle_import::check),
    ("argon2_phc", argon2_phc::check),
    ("join_link", join_link::check),
    ("topics", topics::check),
];

/// Reads a fuzz input as a script of small choices. Running out of bytes reads as zeros, so
/// every input is a valid script and the fuzzer spends no time on framing.
#[derive(Debug)]
pub struct Script<'a> {
    data: &'a [u8],
}

impl<'a> Script<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((first, rest)) => {
                self.data = rest;
                *first
            }
            None => 0,
        }
    }

    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// One of `n` choices.
    pub fn choose(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    /// A length byte, then that many bytes as text (invalid UTF-8 replaced).
    pub fn text(&mut self) -> String {
        let len = usize::from(self.byte()).min(self.data.len());
        let (text, rest) = self.data.split_at(len);
        self.data = rest;
        String::from_utf8_lossy(text).into_owned()
    }

    /// What is left, whole.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}
