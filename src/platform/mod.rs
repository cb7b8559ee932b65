//! The operating system side: crash-safe files, the control socket, exit codes, systemd and RAUC,
//! and the clock every task of kioskd goes by.

pub mod atomic_file;
pub mod clock;
pub mod control_socket;
pub mod exit;
pub mod logging;
pub mod netwatch;
pub mod rauc;
pub mod systemd;
pub mod touch_device;
