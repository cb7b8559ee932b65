//! A process's (or thread's) CPU time from its `/proc/…/stat` line: shared by the benchmarks
//! that read /proc themselves (included with `#[path]`).

/// utime + stime in clock ticks (1/100 s on Linux) from a `stat` file's text.
pub fn ticks(stat: &str) -> u64 {
    // The command name may hold spaces; fields count from after its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat format")
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}
