//! The listening socket, guarded: a bound on open connections, and on how
//! long a connection may stay silent.
//!
//! A client that opens connections and sends nothing could hold them for
//! ever. [`GuardedListener`] waits for a free slot before accepting (further
//! clients wait in the kernel's backlog), and closes a connection that sends
//! nothing for the read timeout, or does not take its answers for as long
//! (the write timeout). Headers that trickle in are cut off by the
//! server's header timeout, and a slow body by the router's request timeout.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;

/// A TCP listener with a connection limit and a read timeout.
#[derive(Debug)]
pub struct GuardedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    max_connections: u32,
    read_timeout: Duration,
}

impl GuardedListener {
    /// Guards `inner`: at most `max_connections` open at once, each closed
    /// after `read_timeout` without a byte from the client, or with an
    /// answer the client does not read.
    pub fn new(inner: TcpListener, max_connections: usize, read_timeout: Duration) -> Self {
        // Waiting for all slots takes a u32 count; no host holds more.
        let max_connections = u32::try_from(max_connections).unwrap_or(u32::MAX).max(1);
        Self {
            inner,
            slots: Arc::new(Semaphore::new(max_connections as usize)),
            max_connections,
            read_timeout,
        }
    }

    /// Waits until every accepted connection is closed.
    pub async fn until_idle(&self) {
        // The semaphore is never closed, so this only waits.
        let _ = self.slots.acquire_many(self.max_connections).await;
    }
}

/// An accepted connection, holding its slot until it closes.
#[derive(Debug)]
pub struct GuardedStream {
    stream: Pin<Box<TimeoutStream<TcpStream>>>,
    _slot: OwnedSemaphorePermit,
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let slot = match Arc::clone(&self.slots).acquire_owned().await {
            Ok(slot) => slot,
            // The semaphore is never closed.
            Err(_) => std::future::pending().await,
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, address)) => {
                    let _ = stream.set_nodelay(true);
                    let mut stream = TimeoutStream::new(stream);
                    stream.set_read_timeout(Some(self.read_timeout));
                    // A client that sends requests but never reads the
                    // answers stops the server reading (it is stuck writing),
                    // so the read timeout alone would never fire.
                    stream.set_write_timeout(Some(self.read_timeout));
                    let stream = GuardedStream {
                        stream: Box::pin(stream),
                        _slot: slot,
                    };
                    return (stream, address);
                }
                Err(error) => {
                    tracing::warn!(%error, "Cannot accept a connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.stream.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.as_mut().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;

    #[tokio::test]
    async fn a_limit_beyond_u32_still_accepts() {
        let inner = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = inner.local_addr().expect("address");
        let mut listener = GuardedListener::new(inner, 1 << 32, Duration::from_secs(5));
        let _client = TcpStream::connect(address).await.expect("connect");
        let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(accepted.is_ok(), "no slot: the limit wrapped to zero");
    }
}
