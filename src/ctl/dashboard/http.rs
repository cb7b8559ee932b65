//! The dashboard's HTTP/1.1, the pure part: reading a request head strictly, choosing what
//! answers it, and the response heads with their security headers. No socket here (`server.rs`).
//!
//! The page has no login; the fleet manager's certificate stands behind it. So it is served on
//! loopback only, and a request must name the listen address as its `Host`: a web page the
//! browser loaded elsewhere cannot reach it through a DNS name rebound to 127.0.0.1.

/// A request head larger than this is refused (431).
pub const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 48;

/// The page's policy: its own script, style and API, nothing inline, nothing embedded.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../../../web/dashboard/index.html");
const DASHBOARD_JS: &str = include_str!("../../../web/dashboard/dashboard.js");
const DASHBOARD_CSS: &str = include_str!("../../../web/dashboard/dashboard.css");

/// What a request asked for, as far as the dashboard reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without its query.
    pub path: String,
    pub host: String,
    /// `Origin`, which a browser sends with every POST.
    pub origin: Option<String>,
    /// `X-Praxiskiosk: test-call`: a header a page of another origin cannot send without a
    /// CORS preflight, which this server never grants.
    pub asked_by_page: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Accepted,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// 405 on the test call's path, which takes POST only.
    PostOnly,
    Conflict,
    RequestTimeout,
    HeadTooLarge,
    VersionNotSupported,
    Unavailable,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Self::Ok => "200 OK",
            Self::Accepted => "202 Accepted",
            Self::Conflict => "409 Conflict",
            Self::BadRequest => "400 Bad Request",
            Self::Forbidden => "403 Forbidden",
            Self::NotFound => "404 Not Found",
            Self::MethodNotAllowed | Self::PostOnly => "405 Method Not Allowed",
            Self::RequestTimeout => "408 Request Timeout",
            Self::HeadTooLarge => "431 Request Header Fields Too Large",
            Self::VersionNotSupported => "505 HTTP Version Not Supported",
            Self::Unavailable => "503 Service Unavailable",
        }
    }
}

/// Where a request head's bytes end: the index just past its blank line.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Reads a request head (up to and including its blank line). Strict on purpose: CRLF line
/// ends, one space between the request line's parts, HTTP/1.1, an origin-form target, one
/// `Host`, no body and no folded or malformed header line.
pub fn parse_head(head: &[u8]) -> Result<Request, Status> {
    if head.len() > MAX_HEAD {
        return Err(Status::HeadTooLarge);
    }
    let text = std::str::from_utf8(head).map_err(|_| Status::BadRequest)?;
    let text = text.strip_suffix("\r\n\r\n").ok_or(Status::BadRequest)?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().ok_or(Status::BadRequest)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Status::BadRequest);
    };
    if !is_token(method) {
        return Err(Status::BadRequest);
    }
    if version != "HTTP/1.1" {
        return Err(match version.starts_with("HTTP/") {
            true => Status::VersionNotSupported,
            false => Status::BadRequest,
        });
    }
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Status::BadRequest);
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let (mut host, mut origin, mut asked_by_page) = (None, None, false);
    for (count, line) in lines.enumerate() {
        if count >= MAX_HEADERS {
            return Err(Status::HeadTooLarge);
        }
        let (name, value) = line.split_once(':').ok_or(Status::BadRequest)?;
        if !is_token(name) || value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(Status::BadRequest);
        }
        let value = value.trim_matches([' ', '\t']);
        match name.to_ascii_lowercase().as_str() {
            "host" if host.is_some() => return Err(Status::BadRequest),
            "host" => host = Some(value.to_ascii_lowercase()),
            "origin" => origin = Some(value.to_ascii_lowercase()),
            "x-praxiskiosk" => asked_by_page = value == "test-call",
            "content-length" if value != "0" => return Err(Status::BadRequest),
            "transfer-encoding" => return Err(Status::BadRequest),
            _ => {}
        }
    }
    Ok(Request {
        method: method.into(),
        path: path.into(),
        host: host.ok_or(Status::BadRequest)?,
        origin,
        asked_by_page,
    })
}

/// What answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/test-call/{device}`: start the fleet's test call to a kiosk (its progress
    /// and verdict come as `test_call` events).
    TestCall(String),
    /// One of the page's files: its content type and body.
    File(&'static str, &'static str),
    /// `GET /api/fleet`: the table now, as JSON.
    Fleet,
    /// `GET /api/events`: Server-Sent Events.
    Events,
}

/// The host names a request may carry: the listen address, and `localhost` with its port.
pub fn allowed_hosts(listen: std::net::SocketAddr) -> Vec<String> {
    vec![
        listen.to_string().to_ascii_lowercase(),
        format!("localhost:{}", listen.port()),
    ]
}

/// Chooses the answer: a foreign `Host` is refused first, then anything but GET (or the test
/// call's POST), then an unknown path.
pub fn route(request: &Request, hosts: &[String]) -> Result<Route, Status> {
    if !hosts.contains(&request.host) {
        return Err(Status::Forbidden);
    }
    if let Some(device) = request.path.strip_prefix("/api/test-call/") {
        return test_call(request, device);
    }
    if request.method != "GET" {
        return Err(Status::MethodNotAllowed);
    }
    match request.path.as_str() {
        "/" => Ok(Route::File("text/html; charset=utf-8", INDEX_HTML)),
        "/dashboard.js" => Ok(Route::File("text/javascript; charset=utf-8", DASHBOARD_JS)),
        "/dashboard.css" => Ok(Route::File("text/css; charset=utf-8", DASHBOARD_CSS)),
        "/api/fleet" => Ok(Route::Fleet),
        "/api/events" => Ok(Route::Events),
        _ => Err(Status::NotFound),
    }
}

/// The one request that changes something: only from the dashboard's own page (its origin and
/// its header), and only for a well-formed device id.
fn test_call(request: &Request, device: &str) -> Result<Route, Status> {
    if request.method != "POST" {
        return Err(Status::PostOnly);
    }
    let own_origin = format!("http://{}", request.host);
    if !request.asked_by_page || request.origin.as_ref().is_some_and(|o| *o != own_origin) {
        return Err(Status::Forbidden);
    }
    crate::fleet::topics::check_id("device", device).map_err(|_| Status::NotFound)?;
    Ok(Route::TestCall(device.into()))
}

fn head(status: Status, content_type: &str) -> String {
    let allow = match status {
        Status::MethodNotAllowed => "Allow: GET\r\n",
        Status::PostOnly => "Allow: POST\r\n",
        _ => "",
    };
    format!(
        "HTTP/1.1 {}\r\nContent-Type: {content_type}\r\n{allow}\
         Content-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\n",
        status.line()
    )
}

/// A whole response; the connection closes after it.
pub fn response(status: Status, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = head(status, content_type);
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// An error as plain text, German first.
pub fn error(status: Status) -> Vec<u8> {
    let text = match status {
        Status::Forbidden => {
            "Zugriff nur über die Adresse, auf der kioskctl lauscht / only through the address kioskctl listens on\n"
        }
        Status::NotFound => "Nicht gefunden / not found\n",
        Status::MethodNotAllowed => "Nur GET / GET only\n",
        Status::PostOnly => "Nur POST / POST only\n",
        Status::Conflict => {
            "Für diesen Kiosk läuft schon ein Testanruf / a test call to this kiosk is running\n"
        }
        Status::Unavailable => "Zu viele Verbindungen / too many connections\n",
        _ => "Ungültige Anfrage / bad request\n",
    };
    response(status, "text/plain; charset=utf-8", text.as_bytes())
}

/// The head of an event stream, which has no length and ends when either side closes it.
pub fn event_stream_head() -> Vec<u8> {
    let mut out = head(Status::Ok, "text/event-stream; charset=utf-8");
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// One Server-Sent Event. `data` is compact JSON, which has no line break of its own.
pub fn event(name: &str, data: &str) -> String {
    debug_assert!(!data.contains('\n'));
    format!("event: {name}\ndata: {data}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, host: &str) -> Request {
        parse_head(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n").as_bytes())
            .unwrap()
    }

    #[test]
    fn a_browsers_get_is_read_and_routed() {
        let hosts = allowed_hosts("127.0.0.1:8090".parse().unwrap());
        let request = get("/api/events?x=1", "127.0.0.1:8090");
        assert_eq!(request.path, "/api/events");
        assert_eq!(route(&request, &hosts), Ok(Route::Events));
        assert_eq!(
            route(&get("/", "LOCALHOST:8090"), &hosts),
            Ok(Route::File("text/html; charset=utf-8", INDEX_HTML))
        );
        assert_eq!(
            route(&get("/api/fleet", "localhost:8090"), &hosts),
            Ok(Route::Fleet)
        );
        assert_eq!(
            route(&get("/../etc/passwd", "localhost:8090"), &hosts),
            Err(Status::NotFound)
        );
    }

    #[test]
    fn a_foreign_host_is_refused_before_anything_else() {
        let hosts = allowed_hosts("127.0.0.1:8090".parse().unwrap());
        for host in [
            "evil.example:8090",
            "127.0.0.1:8091",
            "127.0.0.1",
            "localhost",
        ] {
            assert_eq!(
                route(&get("/", host), &hosts),
                Err(Status::Forbidden),
                "{host}"
            );
        }
        let post = parse_head(b"POST /api/fleet HTTP/1.1\r\nHost: localhost:8090\r\n\r\n").unwrap();
        assert_eq!(route(&post, &hosts), Err(Status::MethodNotAllowed));
        let v6 = allowed_hosts("[::1]:8090".parse().unwrap());
        assert!(route(&get("/", "[::1]:8090"), &v6).is_ok());
        assert!(route(&get("/", "localhost:8090"), &v6).is_ok());
    }

    #[test]
    fn a_test_call_is_a_post_from_the_page_itself_for_a_device_id() {
        let hosts = allowed_hosts("127.0.0.1:8090".parse().unwrap());
        let post = |path: &str, headers: &str| {
            let head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8090\r\n{headers}\r\n");
            route(&parse_head(head.as_bytes()).unwrap(), &hosts)
        };
        let page = "X-Praxiskiosk: test-call\r\nOrigin: http://127.0.0.1:8090\r\n";
        assert_eq!(
            post("/api/test-call/praxis-1", page),
            Ok(Route::TestCall("praxis-1".into()))
        );
        // Without the page's header, from another origin, or with a header of another value.
        for headers in [
            "",
            "Origin: http://127.0.0.1:8090\r\n",
            "X-Praxiskiosk: test-call\r\nOrigin: http://evil.example\r\n",
            "X-Praxiskiosk: yes\r\n",
        ] {
            assert_eq!(
                post("/api/test-call/praxis-1", headers),
                Err(Status::Forbidden),
                "{headers:?}"
            );
        }
        assert_eq!(post("/api/test-call/a.b", page), Err(Status::NotFound));
        assert_eq!(post("/api/test-call/", page), Err(Status::NotFound));
        let read = get("/api/test-call/praxis-1", "127.0.0.1:8090");
        assert_eq!(route(&read, &hosts), Err(Status::PostOnly));
        assert!(
            String::from_utf8(error(Status::PostOnly))
                .unwrap()
                .contains("Allow: POST\r\n")
        );
    }

    #[test]
    fn malformed_heads_are_refused() {
        let bad: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\n\r\n",                                 // no Host
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",           // two
            b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",                     // two spaces
            b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",              // absolute form
            b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",           // folding
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", // a body
            b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\n\n", // bare LF
            b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",
        ];
        for head in bad {
            assert_eq!(
                parse_head(head),
                Err(Status::BadRequest),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert_eq!(
            parse_head(b"GET / HTTP/1.0\r\nHost: a\r\n\r\n"),
            Err(Status::VersionNotSupported)
        );
        let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: y\r\n".repeat(60));
        assert_eq!(parse_head(many.as_bytes()), Err(Status::HeadTooLarge));
        let huge = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "y".repeat(MAX_HEAD)
        );
        assert_eq!(parse_head(huge.as_bytes()), Err(Status::HeadTooLarge));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
    }

    #[test]
    fn every_response_carries_the_policy_and_its_charset() {
        let text = String::from_utf8(error(Status::Forbidden)).unwrap();
        assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        for header in [
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n",
            "X-Content-Type-Options: nosniff\r\n",
            "Referrer-Policy: no-referrer\r\n",
            "Cache-Control: no-store\r\n",
        ] {
            assert!(text.contains(header), "{header} missing in {text}");
        }
        let allow = String::from_utf8(error(Status::MethodNotAllowed)).unwrap();
        assert!(allow.contains("Allow: GET\r\n"));
        let stream = String::from_utf8(event_stream_head()).unwrap();
        assert!(stream.contains("text/event-stream; charset=utf-8") && stream.contains(CSP));
        assert_eq!(event("kiosk", "{}"), "event: kiosk\ndata: {}\n\n");
    }

    #[test]
    fn the_page_loads_nothing_inline_and_nothing_from_elsewhere() {
        assert!(INDEX_HTML.contains(r#"<script src="/dashboard.js" defer></script>"#));
        assert!(!INDEX_HTML.contains("<script>") && !INDEX_HTML.contains("style="));
        assert!(
            !DASHBOARD_JS.contains("innerHTML"),
            "DOM from textContent only"
        );
        assert!(!DASHBOARD_CSS.contains("url(http"));
    }
}
