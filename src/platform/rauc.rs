//! Which A/B slot the kiosk booted from, as RAUC's boot loader integration tells the kernel
//! (`rauc.slot=A` on the command line). kioskd reports it in its state so the fleet sees which
//! system version each kiosk runs; marking a slot good is the `rauc-mark-good` unit's job, after
//! kioskd reported READY=1.

/// The booted slot from a kernel command line.
pub fn slot_from_cmdline(cmdline: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|arg| arg.strip_prefix("rauc.slot="))
        .filter(|slot| !slot.is_empty() && slot.len() <= 32)
        .map(String::from)
}

/// The booted slot, or `None` outside a RAUC system.
pub fn booted_slot() -> Option<String> {
    slot_from_cmdline(&std::fs::read_to_string("/proc/cmdline").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_comes_from_rauc_slot_on_the_command_line() {
        let cmdline = "console=tty1 root=/dev/mmcblk0p2 rauc.slot=B rootwait";
        assert_eq!(slot_from_cmdline(cmdline), Some("B".into()));
        assert_eq!(slot_from_cmdline("root=/dev/sda1 quiet"), None);
        assert_eq!(slot_from_cmdline("rauc.slot="), None);
    }
}
