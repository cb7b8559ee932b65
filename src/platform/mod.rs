//! The operating system side: crash-safe files, the control socket, exit codes.

pub mod atomic_file;
pub mod control_socket;
pub mod exit;
pub mod logging;
pub mod touch_device;
