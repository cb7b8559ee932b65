//! A low-priority busy loop beside the call: work the scheduler should give way to the call,
//! to see what sharing the machine does to each side.

use std::process::{Child, Command, Stdio};

/// The loop runs until dropped (also when the bench panics). It checks every 100 000 turns that
/// the bench still runs, so it also ends if the bench is killed and no `Drop` runs.
#[derive(Debug)]
pub struct BusyLoop {
    child: Child,
    /// Whether it is pinned to the second CPU (`taskset -c 1`).
    pub pinned: bool,
}

fn taskset_works() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset")
            .args(["-c", "1", "true"])
            .status()
            .is_ok_and(|s| s.success())
}

impl BusyLoop {
    pub fn start() -> Self {
        let script = format!(
            "while kill -0 {} 2>/dev/null; do i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; done",
            std::process::id()
        );
        let pinned = taskset_works();
        let mut command = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "1", "nice"]);
            c
        } else {
            Command::new("nice")
        };
        let child = command
            .args(["-n", "19", "sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("nice and sh run");
        Self { child, pinned }
    }

    /// taskset and nice exec, so this is the shell's own pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for BusyLoop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
