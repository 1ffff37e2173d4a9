//! Syslog reception on UDP and unix datagram sockets.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use super::Ctx;

/// Larger than any UDP payload (65,507 bytes) and than the datagrams local syslog
/// clients send, so a datagram is never cut by the receive call itself.
const DATAGRAM_BUF: usize = 256 * 1024;

pub(super) fn bind_udp(addr: SocketAddr, poll: Duration) -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind(addr)?;
    // The timeout is how a stop request is noticed.
    sock.set_read_timeout(Some(poll))?;
    tracing::info!(address = %addr, "receiving syslog on UDP");
    Ok(sock)
}

pub(super) fn bind_unix(path: &Path, poll: Duration) -> std::io::Result<UnixDatagram> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(std::io::Error::new(
                ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let sock = UnixDatagram::bind(path)?;
    // The mail daemons log as their own users.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    sock.set_read_timeout(Some(poll))?;
    tracing::info!(path = %path.display(), "receiving syslog on unix datagram socket");
    Ok(sock)
}

/// Counts a receive error; returns whether it was a real one (not a timeout).
fn receive_error(e: &std::io::Error, ctx: &Ctx) -> bool {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted => false,
        _ => {
            ctx.metrics().read_errors.inc();
            tracing::warn!(error = %e, "error receiving syslog datagram");
            true
        }
    }
}

/// Feeds datagrams from `recv` until the follower is stopped.
fn receive_loop(ctx: &mut Ctx, mut recv: impl FnMut(&mut [u8]) -> std::io::Result<usize>) {
    let mut buf = vec![0u8; DATAGRAM_BUF];
    while !ctx.shared.stopping() {
        match recv(&mut buf) {
            Ok(n) => ctx.reader.datagram(buf.get(..n).unwrap_or_default()),
            Err(e) => {
                // Avoid spinning on a persistent error.
                if receive_error(&e, ctx) && ctx.shared.sleep(ctx.poll) {
                    break;
                }
            }
        }
    }
}

pub(super) fn run_udp(sock: UdpSocket, mut ctx: Ctx) {
    receive_loop(&mut ctx, |buf| sock.recv(buf));
    ctx.metrics().source_up.set(0);
}

pub(super) fn run_unix(sock: UnixDatagram, path: &Path, mut ctx: Ctx) {
    receive_loop(&mut ctx, |buf| sock.recv(buf));
    drop(sock);
    let _ = std::fs::remove_file(path);
    ctx.metrics().source_up.set(0);
}
