//! A cap on the connections one exporter serves at once, and the raise of the soft
//! descriptor limit at start.
//!
//! Without a cap, clients that open connections and never finish a request hold a file
//! descriptor each until the process runs out, and then real scrapes fail. The cap is taken
//! before the TLS handshake and held for the connection's life; a connection over the cap is
//! closed at once, so the kernel's accept queue never fills with them. Header-read timeouts
//! (see the server) free the slots that slow clients hold.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use futures::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Wraps an acceptor so at most `max` connections are open at once.
#[derive(Clone, Debug)]
pub struct LimitAcceptor<A> {
    inner: A,
    slots: Option<Arc<Semaphore>>,
    rejected: Counter,
}

impl<A> LimitAcceptor<A> {
    /// At most `max` connections through `inner` (0: no limit); refused ones are counted in
    /// `rejected`.
    pub fn new(inner: A, max: usize, rejected: Counter) -> Self {
        Self {
            inner,
            slots: (max > 0).then(|| Arc::new(Semaphore::new(max))),
            rejected,
        }
    }
}

/// A connection that holds its slot until it is dropped.
#[derive(Debug)]
pub struct Limited<S> {
    inner: S,
    _slot: Option<OwnedSemaphorePermit>,
}

impl<A, I, S> Accept<I, S> for LimitAcceptor<A>
where
    A: Accept<I, S> + Clone + Send + Sync + 'static,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = Limited<A::Stream>;
    type Service = A::Service;
    type Future = BoxFuture<'static, io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let slot = match &self.slots {
            None => None,
            Some(sem) => match Arc::clone(sem).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    self.rejected.inc();
                    drop(stream);
                    return Box::pin(std::future::ready(Err(io::Error::other(
                        "connection limit reached (--web.max-connections)",
                    ))));
                }
            },
        };
        let fut = self.inner.accept(stream, service);
        Box::pin(async move {
            let (inner, svc) = fut.await?;
            Ok((Limited { inner, _slot: slot }, svc))
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Raises the soft limit on open files to the hard limit, as Go exporters do at start, so
/// a burst of connections or log sources does not hit the common default of 1024. Returns
/// the soft limit in force afterwards.
pub fn raise_nofile_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => {
            tracing::debug!(soft_limit = n, "open files limit");
            Some(n)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open files limit");
            None
        }
    }
}
