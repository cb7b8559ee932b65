//! CPU time and memory of process trees, read from /proc: nothing is asked of the processes
//! themselves, so measuring does not change what is measured.

use std::collections::{HashMap, HashSet};
use std::process::Command;

/// The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses):
/// 0 state, 1 ppid, 11 utime, 12 stime, 19 starttime.
fn stat(pid: u32) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = text.rsplit_once(')')?.1;
    // The state is a letter; it becomes 0 so the indices stay those of proc(5).
    Some(
        after_name
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// `root` and every process below it, as they are now.
pub fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(fields) = stat(pid) {
            children.entry(fields[1] as u32).or_default().push(pid);
        }
    }
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        found.extend(children.get(&found[next]).into_iter().flatten());
        next += 1;
    }
    found
}

/// The command names of `pids`, for the report.
pub fn names(pids: &[u32]) -> Vec<String> {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

/// Linux reports CPU time in clock ticks; `getconf` says how many make a second (usually 100).
pub fn ticks_per_second() -> f64 {
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf (libc-bin) runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("getconf CLK_TCK prints a number")
}

/// The CPU time (user and system, in ticks) of a set of processes at one moment, each keyed by
/// pid and start time, so that a pid reused within the window is not taken for the same process.
#[derive(Debug, Clone, Default)]
pub struct Cpu(HashMap<(u32, u64), u64>);

impl Cpu {
    pub fn read(pids: &[u32]) -> Self {
        let times = pids
            .iter()
            .filter_map(|&pid| {
                let f = stat(pid)?;
                Some(((pid, f[19]), f[11] + f[12]))
            })
            .collect();
        Self(times)
    }

    /// CPU-seconds spent since `earlier`. A process that started in between counts with all
    /// its time; one that ended in between is gone from /proc and counts with none of its last
    /// stretch (see [`Cpu::ended_since`]).
    pub fn seconds_since(&self, earlier: &Cpu, ticks_per_second: f64) -> f64 {
        let ticks: u64 = self
            .0
            .iter()
            .map(|(key, now)| now - earlier.0.get(key).copied().unwrap_or(0))
            .sum();
        ticks as f64 / ticks_per_second
    }

    /// How many processes of `earlier` have ended since.
    pub fn ended_since(&self, earlier: &Cpu) -> usize {
        let now: HashSet<_> = self.0.keys().collect();
        earlier.0.keys().filter(|key| !now.contains(key)).count()
    }
}

/// The proportional set size of `pids` together, in MiB: shared pages (Chromium's processes
/// share a lot) count once in the sum, split among those that share them.
pub fn pss_mib(pids: &[u32]) -> f64 {
    let kib: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .filter_map(|rollup| {
            let line = rollup.lines().find(|l| l.starts_with("Pss:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum();
    kib as f64 / 1024.0
}

/// The whole machine's busy and total ticks so far (the first line of /proc/stat).
pub fn machine() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let ticks: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// CPU-seconds per second that the machine spent over `span` on anything but `ours` (and their
/// descendants).
pub fn others_cpu_per_second(ours: &[u32], span: std::time::Duration) -> f64 {
    let pids = || -> Vec<u32> { ours.iter().flat_map(|&pid| tree(pid)).collect() };
    let (machine_before, ours_before) = (machine(), Cpu::read(&pids()));
    std::thread::sleep(span);
    let (machine_after, ours_after) = (machine(), Cpu::read(&pids()));
    let tick = ticks_per_second();
    let all = (machine_after.0 - machine_before.0) as f64 / tick;
    (all - ours_after.seconds_since(&ours_before, tick)).max(0.0) / span.as_secs_f64()
}
