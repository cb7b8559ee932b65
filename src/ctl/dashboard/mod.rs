//! `kioskctl dashboard`: a local web page of the whole fleet, live. Every kiosk with its room,
//! state, version, last seen, camera, microphone and network, and its last call; a chart of
//! call quality over the last 14 days.
//!
//! It reads the retained `state` and `config` of every kiosk over the fleet manager's own
//! mutual-TLS connection and serves a page on loopback only: the page has no login, the fleet
//! manager's certificate stands behind it. It shows no patient data (a state report has none)
//! and it changes nothing in the fleet: the server answers GET only.

mod fleet_view;
mod http;
mod live;
mod server;
mod test_calls;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::Fleet;
use crate::fleet::{self, LinkOptions};

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Where the page is served: a loopback address (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Restrict the test calls' ICE to this local address (repeatable; tests on loopback).
    #[arg(long = "ice-local", hide = true)]
    ice_local: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "die Flottenübersicht hat keine Anmeldung und lauscht daher nur auf loopback (127.0.0.1 oder \
     ::1), nicht auf {0} / the dashboard has no login, so it listens on loopback only \
     (127.0.0.1 or ::1), not on {0}"
)]
pub struct NotLoopback(SocketAddr);

/// The page is as open as the address it listens on.
fn check_listen(addr: SocketAddr) -> Result<SocketAddr, NotLoopback> {
    match addr.ip().is_loopback() {
        true => Ok(addr),
        false => Err(NotLoopback(addr)),
    }
}

pub async fn run(fleet: &Fleet, args: DashboardArgs) -> anyhow::Result<()> {
    let listen = check_listen(args.listen)?;
    // A wrong certificate or an unreachable broker is an error now, not a page that waits.
    fleet.session().await?.disconnect().await;

    let mut view = fleet_view::FleetView::new(&fleet.root);
    enrolled_kiosks(fleet, &mut view);
    let (link, link_events, _link_task) = fleet::link::spawn(LinkOptions {
        client_id: format!("kioskctl-dashboard-{}", super::random_hex(4)),
        endpoint: fleet.endpoint()?,
        last_will: None,
        keep_alive: Duration::from_secs(30),
    })?;
    for filter in view.filters() {
        link.subscribe(&filter);
    }
    let live = live::Live::spawn(view, link_events);

    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!(
            "kann nicht auf {listen} lauschen (Port belegt? --listen 127.0.0.1:PORT) / \
                 cannot listen on {listen}: {e}"
        )
    })?;
    let url = server::url(listener.local_addr()?);
    let tests = test_calls::TestCalls::new(fleet.clone(), live.clone(), args.ice_local);
    println!("Flottenübersicht / fleet dashboard: {url}");
    tokio::select! {
        served = server::serve(listener, live.clone(), tests) => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    link.close();
    Ok(())
}

/// The kiosks the fleet CA enrolled and did not revoke: rows with their rooms before they ever
/// report. A fleet manager without the CA directory (a plaintext development broker) has none.
fn enrolled_kiosks(fleet: &Fleet, view: &mut fleet_view::FleetView) {
    let Ok(ca) = crate::fleet::pki::FleetCa::open(&fleet.ca_dir) else {
        return;
    };
    for record in ca.devices().filter(|r| !r.is_revoked()) {
        view.enrolled(&record.id, record.room.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_served() {
        for ok in ["127.0.0.1:8090", "127.0.0.2:0", "[::1]:8090"] {
            let addr: SocketAddr = ok.parse().unwrap();
            assert_eq!(check_listen(addr), Ok(addr));
        }
        for bad in ["0.0.0.0:8090", "192.0.2.7:8090", "[::]:8090"] {
            let addr: SocketAddr = bad.parse().unwrap();
            let message = check_listen(addr).unwrap_err().to_string();
            assert!(
                message.contains("nur auf loopback") && message.contains("loopback only"),
                "{message}"
            );
        }
    }
}
