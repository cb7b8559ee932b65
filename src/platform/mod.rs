//! The operating system side: files, the control socket, exit codes.

pub mod atomic_file;
