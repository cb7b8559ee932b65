//! The dashboard's HTTP server on loopback: accepts connections, reads one request head each
//! within a time limit, and answers it (a file, the table, or an event stream that stays open).
//! One request per connection; what a request may be is decided in `http.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, broadcast};

use super::http::{self, Route, Status};
use super::live::Live;
use super::test_calls::TestCalls;

/// How long a client may take to send its request head.
const READ_HEAD: Duration = Duration::from_secs(5);
/// How long one write may take before the page counts as gone.
const WRITE: Duration = Duration::from_secs(10);
/// A comment this often on an event stream, so both sides notice a dead connection.
pub const PING: Duration = Duration::from_secs(15);
/// Open connections at most: a few pages and their files, never an unbounded number of tasks.
const MAX_CONNECTIONS: usize = 32;

/// Serves until the listener fails or `live`'s owner ends.
pub async fn serve(listener: TcpListener, live: Live, tests: TestCalls) -> std::io::Result<()> {
    let hosts: Arc<[String]> = http::allowed_hosts(listener.local_addr()?).into();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = listener.accept().await?;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let (live, hosts, tests) = (live.clone(), hosts.clone(), tests.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(stream, &live, &tests, &hosts).await {
                tracing::debug!(%peer, error = %e, "dashboard: connection ended");
            }
            drop(slot);
        });
    }
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(WRITE, stream.write_all(&http::error(Status::Unavailable))).await;
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    tokio::time::timeout(WRITE, stream.write_all(bytes))
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)?
}

/// Reads up to the end of the request head; `Err(status)` for what the client did wrong.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Result<Vec<u8>, Status>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            if let Some(end) = http::head_end(&buf) {
                buf.truncate(end);
                return Ok(Ok(buf));
            }
            if buf.len() > http::MAX_HEAD {
                return Ok(Err(Status::HeadTooLarge));
            }
            match stream.read(&mut chunk).await? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    match tokio::time::timeout(READ_HEAD, read).await {
        Ok(result) => result,
        Err(_) => Ok(Err(Status::RequestTimeout)),
    }
}

async fn connection(
    mut stream: TcpStream,
    live: &Live,
    tests: &TestCalls,
    hosts: &[String],
) -> std::io::Result<()> {
    let route = match read_head(&mut stream).await? {
        Ok(head) => http::parse_head(&head).and_then(|request| http::route(&request, hosts)),
        Err(status) => Err(status),
    };
    match route {
        Err(status) => write(&mut stream, &http::error(status)).await,
        Ok(Route::File(content_type, body)) => {
            write(
                &mut stream,
                &http::response(Status::Ok, content_type, body.as_bytes()),
            )
            .await
        }
        Ok(Route::Fleet) => match live.snapshot().await {
            Some(json) => {
                let body = http::response(
                    Status::Ok,
                    "application/json; charset=utf-8",
                    json.as_bytes(),
                );
                write(&mut stream, &body).await
            }
            None => write(&mut stream, &http::error(Status::Unavailable)).await,
        },
        Ok(Route::Events) => events(stream, live).await,
        Ok(Route::TestCall(device)) => match tests.start(&device) {
            Ok(()) => {
                let body = br#"{"started":true}"#;
                let answer =
                    http::response(Status::Accepted, "application/json; charset=utf-8", body);
                write(&mut stream, &answer).await
            }
            Err(status) => write(&mut stream, &http::error(status)).await,
        },
    }
}

/// An event stream: the snapshot, then each change, a ping comment every [`PING`].
async fn events(mut stream: TcpStream, live: &Live) -> std::io::Result<()> {
    let Some((json, mut changes)) = live.subscribe().await else {
        return write(&mut stream, &http::error(Status::Unavailable)).await;
    };
    let _ = stream.set_nodelay(true);
    write(&mut stream, &http::event_stream_head()).await?;
    // A page that lost the stream reconnects after `retry` milliseconds (EventSource does).
    write(
        &mut stream,
        format!("retry: 2000\n{}", http::event("snapshot", &json)).as_bytes(),
    )
    .await?;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    let mut closed = [0u8; 64];
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(event) => write(&mut stream, event.as_bytes()).await?,
                // Fell behind: a fresh snapshot says everything the missed events would have.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let Some(json) = live.snapshot().await else { return Ok(()) };
                    write(&mut stream, http::event("snapshot", &json).as_bytes()).await?;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = ping.tick() => write(&mut stream, b": ping\n\n").await?,
            // The page sends nothing more; a read that ends means it went away.
            read = stream.read(&mut closed) => match read {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            },
        }
    }
}

/// The address the listener got (port 0 picks a free one).
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;
    use crate::ctl::dashboard::fleet_view::FleetView;
    use crate::fleet::LinkEvent;
    use crate::wire::{KioskState, StateReport, encode};

    /// Reads until `what` has arrived; returns everything read so far.
    async fn read_until(client: &mut TcpStream, got: &mut String, what: &str) {
        let mut buf = [0u8; 4096];
        while !got.contains(what) {
            let n = client.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before {what:?}: {got}");
            got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
    }

    /// A server on a free loopback port, its table fed by the returned sender.
    async fn start() -> (mpsc::Sender<LinkEvent>, std::net::SocketAddr) {
        let (link, events) = mpsc::channel(8);
        let live = Live::spawn(FleetView::new("r"), events);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A fleet no test call here reaches: these tests start none.
        let fleet = crate::ctl::Fleet {
            broker: crate::fleet::BrokerUrl::parse("mqtts://localhost:8883").unwrap(),
            root: "r".into(),
            ca_dir: "no-ca".into(),
            plaintext_loopback: false,
        };
        let tests = TestCalls::new(fleet, live.clone(), Vec::new());
        tokio::spawn(serve(listener, live, tests));
        (link, addr)
    }

    #[tokio::test]
    async fn an_event_stream_sends_the_snapshot_each_change_and_pings() {
        let (link, addr) = start().await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        let mut got = String::new();
        read_until(&mut client, &mut got, "\n\n").await;
        read_until(
            &mut client,
            &mut got,
            "event: snapshot\ndata: {\"broker_connected\":false,\"kiosks\":[]}\n\n",
        )
        .await;
        assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
        assert!(got.contains("Content-Type: text/event-stream; charset=utf-8\r\n"));

        let report = StateReport {
            state: KioskState::Idle,
            ..StateReport::offline()
        };
        let topic = "r/devices/k1/state".to_string();
        let payload = encode(&report).into();
        link.send(LinkEvent::Message { topic, payload })
            .await
            .unwrap();
        read_until(
            &mut client,
            &mut got,
            "event: kiosk\ndata: {\"device\":\"k1\"",
        )
        .await;

        // Nothing changes for a while: a comment keeps the stream and tells a dead page apart.
        tokio::time::pause();
        let ping = read_until(&mut client, &mut got, "\n: ping\n\n");
        tokio::time::timeout(Duration::from_secs(16), ping)
            .await
            .expect("a ping within 15 s");
    }

    #[tokio::test]
    async fn a_client_that_sends_no_head_is_answered_408_and_closed() {
        let (_link, addr) = start().await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: ").await.unwrap();
        tokio::time::pause();
        let mut got = String::new();
        let closed = client.read_to_string(&mut got);
        tokio::time::timeout(READ_HEAD + Duration::from_secs(1), closed)
            .await
            .expect("an answer within the read timeout")
            .unwrap();
        assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
    }
}
