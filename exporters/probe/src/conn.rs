//! One probe connection: plain TCP or TLS, with a line reader whose every limit is fixed
//! (line length, bytes per reply), so an endless line or a 10 MB reply ends the probe
//! with a reason instead of filling memory. The whole probe's deadline bounds time.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// The longest line accepted (IMAP capability lines are the longest in practice).
pub const MAX_LINE: usize = 64 * 1024;

/// A TCP stream, upgraded to TLS or not.
pub enum Stream {
    /// Plain text.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// How reading a line failed.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The peer closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// A line longer than [`MAX_LINE`].
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    /// A socket or TLS error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A connection with its read buffer.
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    start: usize,
    /// Bytes read from the peer so far (all replies).
    pub bytes_read: u64,
}

impl Conn {
    /// Wraps a connected stream.
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            buf: Vec::with_capacity(4096),
            start: 0,
            bytes_read: 0,
        }
    }

    /// Whether the session is TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The TLS session, when there is one.
    pub fn tls(&self) -> Option<&rustls::ClientConnection> {
        match &self.stream {
            Stream::Tls(s) => Some(s.get_ref().1),
            Stream::Plain(_) => None,
        }
    }

    /// Whether bytes the server sent are waiting unread (after a STARTTLS reply that means
    /// the server, or someone in between, injected plain text into the TLS session).
    pub fn has_buffered(&self) -> bool {
        self.start < self.buf.len()
    }

    /// Gives up the stream (for the TLS upgrade); buffered bytes are dropped.
    pub fn into_stream(self) -> Stream {
        self.stream
    }

    /// Reads one line, without its CR LF (or bare LF). Invalid UTF-8 is replaced.
    pub async fn read_line(&mut self) -> Result<String, LineError> {
        let mut scanned = self.start;
        loop {
            if let Some(i) = memchr_nl(&self.buf[scanned..]) {
                let end = scanned + i;
                let mut line = &self.buf[self.start..end];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                let s = String::from_utf8_lossy(line).into_owned();
                self.start = end + 1;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                return Ok(s);
            }
            scanned = self.buf.len();
            if self.buf.len() - self.start > MAX_LINE {
                return Err(LineError::TooLong);
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                scanned -= self.start;
                self.start = 0;
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(LineError::Closed);
            }
            self.bytes_read += n as u64;
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads exactly `n` bytes (an IMAP literal), capped by the caller.
    pub async fn read_exact_bytes(&mut self, n: usize) -> Result<Vec<u8>, LineError> {
        let mut out = Vec::with_capacity(n.min(1 << 20));
        let have = (self.buf.len() - self.start).min(n);
        out.extend_from_slice(&self.buf[self.start..self.start + have]);
        self.start += have;
        while out.len() < n {
            let mut chunk = [0u8; 8192];
            let want = (n - out.len()).min(chunk.len());
            let got = self.stream.read(&mut chunk[..want]).await?;
            if got == 0 {
                return Err(LineError::Closed);
            }
            self.bytes_read += got as u64;
            out.extend_from_slice(&chunk[..got]);
        }
        Ok(out)
    }

    /// Writes `bytes` and flushes.
    pub async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Closes the write side (TLS close_notify first), ignoring errors: the probe is over.
    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair(server_bytes: Vec<u8>) -> Conn {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let _ = s.write_all(&server_bytes).await;
            let _ = s.shutdown().await;
        });
        Conn::new(Stream::Plain(TcpStream::connect(addr).await.unwrap()))
    }

    #[tokio::test]
    async fn lines_and_limits() {
        let mut c = pair(b"220-a\r\n220 b\nlast".to_vec()).await;
        assert_eq!(c.read_line().await.unwrap(), "220-a");
        assert_eq!(c.read_line().await.unwrap(), "220 b");
        assert!(matches!(c.read_line().await, Err(LineError::Closed)));
        let mut c = pair(vec![b'x'; MAX_LINE + 10]).await;
        assert!(matches!(c.read_line().await, Err(LineError::TooLong)));
        let mut c = pair(b"{5}\r\nabcdeOK\r\n".to_vec()).await;
        assert_eq!(c.read_line().await.unwrap(), "{5}");
        assert_eq!(c.read_exact_bytes(5).await.unwrap(), b"abcde");
        assert_eq!(c.read_line().await.unwrap(), "OK");
    }
}
