//! The server loop on a real socket: requests are served, and a client that never
//! finishes its request head is cut off at `header_read_timeout`.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::configs::ConfigStore;
use crate::settings::Settings;
use crate::{AppState, serve};

/// Starts `serve` with `toml` settings; returns its address and its stop switch.
async fn start(
    toml: &str,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let settings = Settings::from_toml(toml, Path::new("test.toml"))
        .unwrap()
        .with_env([])
        .unwrap();
    let state = AppState::new(settings, ConfigStore::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (address, stop, server)
}

#[tokio::test]
async fn requests_are_served_until_shutdown() {
    let (address, stop, server) = start("").await;
    let mut client = TcpStream::connect(address).await.unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: serin\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still accepting"
    );
}

/// Paused time: the clock jumps to the next timer whenever the runtime waits, so
/// the connection is closed exactly at the timeout (without one, the 60 s guard
/// would end the wait instead).
#[tokio::test(start_paused = true)]
async fn slow_request_heads_are_cut_off() {
    let (address, stop, server) = start("header_read_timeout = \"10s\"").await;
    let started = Instant::now();
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"POST /judge HTTP/1.1\r\nHost: serin\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(60), slow.read_to_end(&mut rest)).await;
    let elapsed = started.elapsed();
    assert!(closed.is_ok(), "connection still open after {elapsed:?}");
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed < Duration::from_secs(11),
        "closed after {elapsed:?}"
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
