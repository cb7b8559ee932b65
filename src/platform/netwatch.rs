//! The machine's own network addresses, read from `/proc`, so the kiosk notices when its network
//! changed under it (a Wi-Fi that reconnected with a new lease, a cable moved to another
//! socket): connections bound to an address that is gone never recover by themselves, and
//! waiting for their keep-alives to time out costs a running call 15 s or more.
//!
//! Loopback and link-local addresses do not count: no connection of the kiosk's uses them.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The addresses other hosts can reach this one at, now. Empty if `/proc` cannot be read.
pub fn local_addresses() -> BTreeSet<IpAddr> {
    let v4 = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let v6 = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    ipv4_local(&v4).chain(ipv6_local(&v6)).collect()
}

/// The IPv4 addresses `fib_trie` lists as `/32 host LOCAL`: the line before names the address.
fn ipv4_local(fib_trie: &str) -> impl Iterator<Item = IpAddr> + '_ {
    let lines: Vec<&str> = fib_trie.lines().collect();
    let found: BTreeSet<Ipv4Addr> = lines
        .windows(2)
        .filter(|pair| pair[1].trim() == "/32 host LOCAL")
        .filter_map(|pair| pair[0].trim().trim_start_matches("|--").trim().parse().ok())
        .filter(|a: &Ipv4Addr| !a.is_loopback() && !a.is_link_local())
        .collect();
    found.into_iter().map(IpAddr::V4)
}

/// The global IPv6 addresses of `if_inet6` (32 hex digits, then index, prefix, scope, flags).
fn ipv6_local(if_inet6: &str) -> impl Iterator<Item = IpAddr> + '_ {
    if_inet6.lines().filter_map(|line| {
        let mut fields = line.split_whitespace();
        let hex = fields.next()?;
        let scope = fields.nth(2)?;
        if hex.len() != 32 || scope != "00" {
            return None;
        }
        let bits = u128::from_str_radix(hex, 16).ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(bits)))
    })
}

/// Remembers the addresses seen last and says when they changed.
#[derive(Debug, Default)]
pub struct NetWatch {
    last: Option<BTreeSet<IpAddr>>,
}

impl NetWatch {
    /// Compares `now` with the addresses seen last; `true` when one came or went (never on the
    /// first look).
    pub fn changed(&mut self, now: BTreeSet<IpAddr>) -> bool {
        let changed = self.last.as_ref().is_some_and(|last| *last != now);
        self.last = Some(now);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB_TRIE: &str = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n           |-- 127.0.0.1\n              /32 host LOCAL\n           |-- 10.1.0.2\n              /32 host LOCAL\n        |-- 10.1.0.255\n           /32 link BROADCAST\n           |-- 169.254.3.4\n              /32 host LOCAL\nLocal:\n           |-- 10.1.0.2\n              /32 host LOCAL\n";
    const IF_INET6: &str = "fd000000000000000000000000000002 04 40 00 82     eth0\nfe8000000000000000fc00fffe000001 04 40 20 80     eth0\n00000000000000000000000000000001 01 80 10 80       lo\n";

    #[test]
    fn only_addresses_others_can_reach_count() {
        let v4: Vec<IpAddr> = ipv4_local(FIB_TRIE).collect();
        assert_eq!(
            v4,
            ["10.1.0.2".parse::<IpAddr>().unwrap()],
            "once, no loopback or link-local"
        );
        let v6: Vec<IpAddr> = ipv6_local(IF_INET6).collect();
        assert_eq!(
            v6,
            ["fd00::2".parse::<IpAddr>().unwrap()],
            "global scope only"
        );
    }

    #[test]
    fn a_new_address_is_a_change_and_the_first_look_is_not() {
        let set = |a: &[&str]| {
            a.iter()
                .map(|a| a.parse().unwrap())
                .collect::<BTreeSet<IpAddr>>()
        };
        let mut watch = NetWatch::default();
        assert!(!watch.changed(set(&["10.1.0.2"])));
        assert!(!watch.changed(set(&["10.1.0.2"])));
        assert!(watch.changed(set(&["10.1.0.3"])));
        assert!(
            watch.changed(set(&[])),
            "losing every address is a change too"
        );
    }

    #[test]
    fn this_machine_has_its_addresses_read() {
        // Whatever the machine has: reading must not fail or see loopback.
        assert!(local_addresses().iter().all(|a| !a.is_loopback()));
    }
}
