//! The doctor's join link:
//! `{page}#v=1&broker=…&root=…&device=…&session=…&username=…&password=…&key=…`.
//!
//! Everything after `#` is the URL's fragment, which browsers never send to the server that
//! serves the page: the session credential and the session key stay between the link and the
//! broker, and the key never reaches the broker either.

use super::{SessionKey, is_valid_id};

#[derive(Clone, PartialEq, Eq)]
pub struct JoinLink {
    /// Where the doctor's client connects, e.g. `wss://broker.example:8443`.
    pub broker: String,
    pub root: String,
    pub device: String,
    pub session: String,
    pub username: String,
    pub password: String,
    /// The session key that seals the signalling (base64url in the link). Every link of a
    /// fleet with a CA has one; a link without is a development link (signalling in clear).
    pub key: Option<SessionKey>,
}

impl std::fmt::Debug for JoinLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinLink")
            .field("broker", &self.broker)
            .field("device", &self.device)
            .field("session", &self.session)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoinLinkError {
    #[error("the join link has no #… part with the session")]
    NoFragment,
    #[error("the join link is version {0:?}; this build reads version 1")]
    Version(String),
    #[error("the join link lacks {0}")]
    Missing(&'static str),
    #[error("the join link's {0} is not valid")]
    Invalid(&'static str),
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes [`encode`]: `%` and exactly two hex digits for a byte, the rest as it is.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Not `from_str_radix` alone: it takes a sign, so `%+1` would be a byte.
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl JoinLink {
    /// The link for the doctor's page at `page`.
    pub fn to_url(&self, page: &str) -> String {
        let page = page.split('#').next().unwrap_or(page);
        let key = match &self.key {
            Some(key) => format!("&key={}", key.to_base64url()),
            None => String::new(),
        };
        format!(
            "{page}#v=1&broker={}&root={}&device={}&session={}&username={}&password={}{key}",
            encode(&self.broker),
            encode(&self.root),
            encode(&self.device),
            encode(&self.session),
            encode(&self.username),
            encode(&self.password),
        )
    }

    pub fn parse(url: &str) -> Result<Self, JoinLinkError> {
        let (_, fragment) = url.split_once('#').ok_or(JoinLinkError::NoFragment)?;
        // Names are percent-encoded like values (protocol.md 10.3), and read as the doctor's
        // page reads them (web/doctor/link.js, compared by the join_link fuzz target): a name
        // with broken encoding names nothing we read; a value with broken encoding is invalid.
        let mut fields = std::collections::BTreeMap::new();
        for pair in fragment.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let Some(key) = decode(key) {
                fields.insert(key, value);
            }
        }
        let field = |name: &'static str| -> Result<String, JoinLinkError> {
            let raw = fields.get(name).ok_or(JoinLinkError::Missing(name))?;
            decode(raw)
                .filter(|v| !v.is_empty())
                .ok_or(JoinLinkError::Invalid(name))
        };
        match fields
            .get("v")
            .map(|raw| decode(raw).unwrap_or_else(|| raw.to_string()))
        {
            Some(v) if v == "1" => {}
            Some(other) => return Err(JoinLinkError::Version(other)),
            None => return Err(JoinLinkError::Missing("v")),
        }
        let link = Self {
            broker: field("broker")?,
            root: field("root")?,
            device: field("device")?,
            session: field("session")?,
            username: field("username")?,
            password: field("password")?,
            key: match fields.get("key") {
                None => None,
                Some(raw) => Some(
                    decode(raw)
                        .and_then(|text| SessionKey::from_base64url(&text))
                        .ok_or(JoinLinkError::Invalid("key"))?,
                ),
            },
        };
        for (name, value) in [("device", &link.device), ("session", &link.session)] {
            if !is_valid_id(value) {
                return Err(JoinLinkError::Invalid(name));
            }
        }
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_round_trips_and_keeps_its_secret_in_the_fragment() {
        let link = JoinLink {
            broker: "wss://broker.example:8443/mqtt".into(),
            root: "praxiskiosk/v1".into(),
            device: "kiosk-1".into(),
            session: "0123abcd".into(),
            username: "doctor-a-1".into(),
            password: "p&ss=wörd#".into(),
            key: Some(SessionKey([9; 32])),
        };
        let url = link.to_url("https://praxis.example/doctor/");
        let (page, fragment) = url.split_once('#').unwrap();
        assert_eq!(page, "https://praxis.example/doctor/");
        assert!(!fragment.contains("wörd"), "{fragment}");
        assert_eq!(JoinLink::parse(&url).unwrap(), link);
        assert!(!format!("{link:?}").contains("ss=w"));
        assert!(fragment.ends_with(&format!("&key={}", SessionKey([9; 32]).to_base64url())));
        let bad_key = url.replace("&key=", "&key=x");
        assert_eq!(
            JoinLink::parse(&bad_key),
            Err(JoinLinkError::Invalid("key"))
        );
    }

    #[test]
    fn broken_links_say_what_is_wrong() {
        assert_eq!(
            JoinLink::parse("https://x/"),
            Err(JoinLinkError::NoFragment)
        );
        assert_eq!(
            JoinLink::parse("https://x/#v=2"),
            Err(JoinLinkError::Version("2".into()))
        );
        assert_eq!(
            JoinLink::parse("https://x/#v=1&broker=a"),
            Err(JoinLinkError::Missing("root"))
        );
        let bad = "https://x/#v=1&broker=a&root=r&device=a%2Fb&session=s&username=u&password=p";
        assert_eq!(JoinLink::parse(bad), Err(JoinLinkError::Invalid("device")));
    }

    /// What the join_link fuzz target found the doctor's page reading differently
    /// (tests/fuzz/regressions/join_link/).
    #[test]
    fn names_and_escapes_are_read_as_the_page_reads_them() {
        let good = "https://x/#v=1&broker=b&root=r&device=d&session=s&username=u&password=p";
        let link = JoinLink::parse(good).unwrap();
        assert_eq!(
            JoinLink::parse(&good.replace("#v=1", "#%76=%31")),
            Ok(link.clone()),
            "names and the version are percent-encoded like every value"
        );
        assert_eq!(
            JoinLink::parse(&good.replace("password=p", "password=%+1")),
            Err(JoinLinkError::Invalid("password")),
            "a sign is no hex digit"
        );
        assert_eq!(
            JoinLink::parse(&format!("{good}&pass%ZZ=x")),
            Ok(link),
            "a broken name names nothing we read"
        );
    }
}
