//! `ceiling`: a bare tokio-tungstenite broadcast server, the most this machine does for the
//! fan-out and idle scenarios with no chat logic at all. Every text frame a client sends is
//! written to every other connected client; nothing is stored, parsed or acked.
//!
//!     ceiling --bind 127.0.0.1:9100 [--threads N]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "Bare WebSocket broadcast server (benchmark ceiling, loopback only)")]
struct Cli {
    #[arg(long, default_value = "127.0.0.1:9100")]
    bind: SocketAddr,
    /// Runtime worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Frames a slow client may fall behind before it misses some (counted as lagged).
    #[arg(long, default_value_t = 65536)]
    backlog: usize,
}

/// A broadcast frame and the connection it came from (not echoed to it).
type Frame = Arc<(u64, String)>;

struct Counters {
    connections: AtomicUsize,
    lagged: AtomicU64,
    next_id: AtomicU64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if !cli.bind.ip().is_loopback() {
        bail!("the ceiling server listens on loopback only");
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if cli.threads > 0 {
        rt.worker_threads(cli.threads);
    }
    rt.enable_all().build()?.block_on(serve(cli))
}

async fn serve(cli: Cli) -> Result<()> {
    let listener = TcpListener::bind(cli.bind).await?;
    eprintln!("ceiling listening on {}", listener.local_addr()?);
    let (tx, _) = broadcast::channel::<Frame>(cli.backlog.max(16));
    let counters = Arc::new(Counters {
        connections: AtomicUsize::new(0),
        lagged: AtomicU64::new(0),
        next_id: AtomicU64::new(1),
    });
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let (tx, counters) = (tx.clone(), counters.clone());
                tokio::spawn(async move {
                    counters.connections.fetch_add(1, Ordering::Relaxed);
                    let _ = client(tcp, tx, &counters).await;
                    counters.connections.fetch_sub(1, Ordering::Relaxed);
                });
            }
        }
    }
    eprintln!(
        "ceiling: {} connections at exit, {} frames missed by lagging clients",
        counters.connections.load(Ordering::Relaxed),
        counters.lagged.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn client(tcp: TcpStream, tx: broadcast::Sender<Frame>, counters: &Counters) -> Result<()> {
    tcp.set_nodelay(true)?;
    let ws =
        tokio_tungstenite::accept_async_with_config(tcp, Some(bench::conn::ws_config())).await?;
    let id = counters.next_id.fetch_add(1, Ordering::Relaxed);
    let mut rx = tx.subscribe();
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            m = stream.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let _ = tx.send(Arc::new((id, t)));
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            f = rx.recv() => {
                let mut next = Some(f);
                // Write everything already queued, then flush once.
                while let Some(f) = next.take() {
                    match f {
                        Ok(frame) if frame.0 != id => sink.feed(Message::Text(frame.1.clone())).await?,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            counters.lagged.fetch_add(n, Ordering::Relaxed);
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                    next = match rx.try_recv() {
                        Ok(f) => Some(Ok(f)),
                        Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Err(broadcast::error::RecvError::Lagged(n))),
                        Err(_) => None,
                    };
                }
                sink.flush().await?;
            }
        }
    }
    Ok(())
}
