//! Which ICE servers a call uses: the fleet's list (WebRTC-style URLs, from the config or the
//! device config) turned into what webrtcbin takes, and into what the other side is told.

use crate::wire::IceServer;

/// Which ICE servers and addresses a call may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceSpec {
    /// `stun://host:port`, the form webrtcbin takes.
    pub stun: Option<String>,
    /// `turn(s)://user:pass@host:port`; empty unless relaying is allowed (P2P is the legal default).
    pub turn: Vec<String>,
    /// Restrict ICE to these local addresses (tests use 127.0.0.1); empty means all interfaces.
    pub local_addresses: Vec<String>,
    /// The same servers as the other side is told them (the kiosk's hello, protocol.md 5).
    pub shared: Vec<IceServer>,
    /// The answerer takes the servers the offerer's hello names: the doctor's side then uses
    /// the fleet's servers, and none of its own choosing.
    pub adopt_offered: bool,
}

/// `stun:host:port` or `turn:user:password@host:port` (also `turns:`).
pub fn check_ice_server(url: &str) -> Result<(), String> {
    let rest = ["stun:", "turn:", "turns:"]
        .iter()
        .find_map(|p| url.strip_prefix(p));
    let ok = rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with("//")
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:@[]%".contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "ICE server {url:?} must look like stun:host:port or turn:user:password@host:port"
        ))
    }
}

/// Turns WebRTC-style server URLs into what webrtcbin takes, and into what the other side is
/// told (`shared`). TURN servers are kept only when relaying is allowed; anything malformed is
/// skipped with a warning (the fleet's list is checked here too, since it does not pass through
/// the config parser).
pub fn ice_spec(servers: &[String], allow_relay: bool, local_addresses: &[String]) -> IceSpec {
    let mut spec = IceSpec {
        local_addresses: local_addresses.to_vec(),
        ..IceSpec::default()
    };
    for url in servers {
        if let Err(e) = check_ice_server(url) {
            tracing::warn!(reason = %e, "ICE server skipped");
            continue;
        }
        let (scheme, rest) = url.split_once(':').expect("checked above");
        match scheme {
            "stun" => {
                if spec.stun.is_none() {
                    spec.stun = Some(format!("stun://{rest}"));
                } else {
                    tracing::info!("only the first STUN server is used by kioskd");
                }
                spec.shared.push(IceServer {
                    urls: vec![url.clone()],
                    username: None,
                    credential: None,
                });
            }
            _ if allow_relay => {
                spec.turn.push(format!("{scheme}://{rest}"));
                // `user:password@host:port`: the browser takes the login apart from the URL.
                let (login, host) = rest.rsplit_once('@').unwrap_or(("", rest));
                let (username, credential) = login.split_once(':').unwrap_or((login, ""));
                spec.shared.push(IceServer {
                    urls: vec![format!("{scheme}:{host}")],
                    username: Some(username.into()),
                    credential: Some(credential.into()),
                });
            }
            _ => tracing::info!("TURN server ignored: relaying is not allowed (P2P only)"),
        }
    }
    spec
}

/// The most ICE servers taken from the other side's hello; a fleet configures one or two.
const MAX_OFFERED_SERVERS: usize = 8;

/// The servers the offerer's hello names, as [`ice_spec`] takes them. The offerer names TURN
/// servers only where its fleet allows relaying, so they are allowed here.
pub fn offered_ice_spec(offered: &[IceServer], local_addresses: &[String]) -> IceSpec {
    let urls: Vec<String> = offered
        .iter()
        .take(MAX_OFFERED_SERVERS)
        .flat_map(|server| {
            server.urls.iter().map(|url| {
                match (url.split_once(':'), &server.username, &server.credential) {
                    (Some((scheme, host)), Some(user), Some(password)) if scheme != "stun" => {
                        format!("{scheme}:{user}:{password}@{host}")
                    }
                    _ => url.clone(),
                }
            })
        })
        .collect();
    let mut spec = ice_spec(&urls, true, local_addresses);
    spec.adopt_offered = true;
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_servers_become_webrtcbin_urls_and_turn_needs_permission() {
        let servers = vec![
            "stun:stun.example.org:3478".to_string(),
            "turn:u:p@turn.example.org:3478".to_string(),
        ];
        let p2p = ice_spec(&servers, false, &[]);
        assert_eq!(p2p.stun.as_deref(), Some("stun://stun.example.org:3478"));
        assert!(p2p.turn.is_empty());
        let relay = ice_spec(&servers, true, &["127.0.0.1".into()]);
        assert_eq!(relay.turn, ["turn://u:p@turn.example.org:3478"]);
        assert_eq!(relay.local_addresses, ["127.0.0.1"]);
        assert!(
            ice_spec(&["stun://bad url".into()], false, &[])
                .stun
                .is_none()
        );
    }

    #[test]
    fn the_doctors_side_is_told_the_same_servers_and_takes_them_back() {
        let servers = vec![
            "stun:stun.example.org:3478".to_string(),
            "turn:u:p@turn.example.org:3478".to_string(),
        ];
        let p2p = ice_spec(&servers, false, &[]);
        assert_eq!(p2p.shared.len(), 1, "no TURN without permission: {p2p:?}");
        assert_eq!(p2p.shared[0].urls, ["stun:stun.example.org:3478"]);
        let relay = ice_spec(&servers, true, &[]);
        let turn = &relay.shared[1];
        assert_eq!(turn.urls, ["turn:turn.example.org:3478"]);
        assert_eq!(
            (turn.username.as_deref(), turn.credential.as_deref()),
            (Some("u"), Some("p"))
        );
        // The doctor's side, told these, builds what the kiosk has.
        let adopted = offered_ice_spec(&relay.shared, &["10.0.0.2".into()]);
        assert_eq!(adopted.stun, relay.stun);
        assert_eq!(adopted.turn, relay.turn);
        assert_eq!(adopted.local_addresses, ["10.0.0.2"]);
        assert!(adopted.adopt_offered);
        // Whatever else a hello names is checked like a config entry.
        let odd = IceServer {
            urls: vec!["http://evil.example".into(), "stun:ok.example:3478".into()],
            username: None,
            credential: None,
        };
        let taken = offered_ice_spec(&[odd], &[]);
        assert_eq!(taken.stun.as_deref(), Some("stun://ok.example:3478"));
    }
}
