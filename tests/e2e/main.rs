//! End-to-end tests: real Mosquitto, real kioskd and kioskctl processes, real webrtcbin calls on
//! loopback. Run with `make test` (which installs Mosquitto and GStreamer first).

mod harness;

mod bandwidth;
mod browser;
mod clock;
mod codes;
mod consultation;
mod dashboard;
mod dtls;
mod field;
mod journal;
mod mitm;
mod names;
mod offline;
mod persistence;
mod privacy;
mod provisioning;
mod robustness;
mod room;
mod sealing;
mod security;
mod security_code;
mod systemd;
mod test_call;
mod touch;
