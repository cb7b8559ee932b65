//! The local control socket: a Unix stream socket, mode 0600, one JSON request per line and one
//! JSON reply per line. It only parses and forwards; the daemon decides. Garbage gets a
//! `bad_request` reply, an overlong line closes the connection; neither reaches the daemon.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::wire::{ControlReply, ControlRequest};

const MAX_LINE: u64 = 16 * 1024;

/// One request and where its reply goes.
#[derive(Debug)]
pub struct ControlCall {
    pub request: ControlRequest,
    pub reply: oneshot::Sender<ControlReply>,
}

/// The bound socket. Dropping it stops accepting and removes the socket file.
#[derive(Debug)]
pub struct ControlSocket {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `path` (replacing a stale socket, never another kind of file) and serves it.
pub fn serve(path: &Path, calls: mpsc::Sender<ControlCall>) -> io::Result<ControlSocket> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::platform::atomic_file::private_dir(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    // The directory is private already; the mode keeps the socket private even in a shared one.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let owner = std::fs::metadata(path)?.uid();
    let task = tokio::spawn(accept(listener, calls, owner));
    Ok(ControlSocket {
        path: path.to_path_buf(),
        task,
    })
}

/// Accepts connections from our own user and root only. The socket's mode says the same, but is
/// set a moment after the socket exists; the peer's credentials close that gap.
async fn accept(listener: UnixListener, calls: mpsc::Sender<ControlCall>, owner: u32) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match stream.peer_cred().map(|c| c.uid()) {
                Ok(uid) if uid == owner || uid == 0 => {
                    tokio::spawn(connection(stream, calls.clone()));
                }
                Ok(uid) => {
                    tracing::warn!(uid, "control socket connection from another user refused")
                }
                Err(e) => tracing::warn!(error = %e, "control socket peer unknown; refused"),
            },
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(stream: UnixStream, calls: mpsc::Sender<ControlCall>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = Vec::new();
        let n = match (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let too_long = n as u64 > MAX_LINE;
        let reply = if too_long {
            ControlReply::bad_request(&format!("line longer than {MAX_LINE} bytes"))
        } else {
            answer(&line, &calls).await
        };
        let mut out = serde_json::to_vec(&reply).expect("replies always serialise");
        out.push(b'\n');
        if write.write_all(&out).await.is_err() || too_long {
            return;
        }
    }
}

async fn answer(line: &[u8], calls: &mpsc::Sender<ControlCall>) -> ControlReply {
    let text = match std::str::from_utf8(line) {
        Ok(text) => text.trim(),
        Err(_) => return ControlReply::bad_request("not UTF-8"),
    };
    let request = match serde_json::from_str::<ControlRequest>(text) {
        Ok(request) => request,
        Err(e) => return ControlReply::bad_request(&e.to_string()),
    };
    let (reply, rx) = oneshot::channel();
    if calls.send(ControlCall { request, reply }).await.is_err() {
        return ControlReply::bad_request("kioskd is shutting down");
    }
    rx.await
        .unwrap_or_else(|_| ControlReply::bad_request("kioskd is shutting down"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncBufReadExt;

    async fn roundtrip(stream: &mut BufReader<UnixStream>, line: &[u8]) -> serde_json::Value {
        stream.get_mut().write_all(line).await.unwrap();
        let mut reply = String::new();
        stream.read_line(&mut reply).await.unwrap();
        serde_json::from_str(&reply).unwrap()
    }

    #[tokio::test]
    async fn garbage_gets_a_reply_and_requests_reach_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/control.sock");
        let (tx, mut rx) = mpsc::channel(4);
        let _socket = serve(&path, tx).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        tokio::spawn(async move {
            while let Some(call) = rx.recv().await {
                assert_eq!(call.request, ControlRequest::Status);
                let _ = call.reply.send(ControlReply::done());
            }
        });
        let mut stream = BufReader::new(UnixStream::connect(&path).await.unwrap());
        let reply = roundtrip(&mut stream, b"hello there\n").await;
        assert_eq!(reply["error"], "bad_request");
        let reply = roundtrip(&mut stream, b"{\"cmd\":\"fly\"}\n").await;
        assert_eq!(reply["error"], "bad_request");
        let reply = roundtrip(&mut stream, b"\xff\xfe\n").await;
        assert_eq!(reply["error"], "bad_request");
        let reply = roundtrip(&mut stream, b"{\"cmd\":\"status\"}\n").await;
        assert_eq!(reply["ok"], true, "the connection survives garbage");
        let mut long = vec![b'x'; MAX_LINE as usize + 10];
        long.push(b'\n');
        let reply = roundtrip(&mut stream, &long).await;
        assert_eq!(reply["error"], "bad_request");
    }

    #[tokio::test]
    async fn refuses_to_replace_a_file_that_is_not_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        std::fs::write(&path, b"precious").unwrap();
        let (tx, _rx) = mpsc::channel(1);
        assert!(serve(&path, tx).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    }
}
