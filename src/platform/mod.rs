//! The operating system side: crash-safe files, the control socket, exit codes, systemd and RAUC.

pub mod atomic_file;
pub mod control_socket;
pub mod exit;
pub mod logging;
pub mod rauc;
pub mod systemd;
pub mod touch_device;
