//! Loopback ports for test daemons.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Lower bound of the kernel's ephemeral port range (outgoing connections use ports from there).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32768)
}

/// A loopback TCP port that is free right now: bound on 127.0.0.1 (TCP and UDP) and released.
///
/// Ports are picked at random *below* the kernel's ephemeral range, not with `bind(:0)`:
/// the daemons under test open many outgoing connections, and an ephemeral port taken by one of
/// them between our release and the daemon's `bind` would fail the start. Within one process
/// a port is never handed out twice.
pub fn free_port() -> u16 {
    let high = ephemeral_low().max(12_000);
    let low = 10_000u16;
    let state = RandomState::new();
    let mut guard = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    let used = guard.get_or_insert_with(HashSet::new);
    for attempt in 0u64..10_000 {
        let r = state.hash_one((attempt, std::process::id(), Instant::now()));
        let span = u64::from(high - low);
        let port = low + u16::try_from(r % span).unwrap_or(0);
        if used.contains(&port) {
            continue;
        }
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let udp = UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            used.insert(port);
            return port;
        }
    }
    // Fall back to the kernel's choice; still better than failing outright.
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether something accepts TCP connections on `addr`.
pub fn tcp_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Whether a TCP socket listens on 127.0.0.1:`port` (or on all addresses), read from
/// `/proc/net/tcp` without connecting: a probe connection would show in the daemon's log
/// and in its connection counters.
pub fn tcp_listening(port: u16) -> bool {
    tcp_listening_on(std::net::Ipv4Addr::LOCALHOST, port)
}

/// As [`tcp_listening`], on IPv4 address `ip` (or on all addresses).
pub fn tcp_listening_on(ip: std::net::Ipv4Addr, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    // Lines: `sl local_address rem_address st ...`, addresses as hex `IP:PORT`, IP in host
    // byte order (127.0.0.1 is 0100007F on little-endian machines), state 0A = LISTEN.
    let o = ip.octets();
    let wanted = [
        format!(
            "{:02X}{:02X}{:02X}{:02X}:{port:04X}",
            o[3], o[2], o[1], o[0]
        ),
        format!(
            "{:02X}{:02X}{:02X}{:02X}:{port:04X}",
            o[0], o[1], o[2], o[3]
        ),
        format!("00000000:{port:04X}"),
    ];
    table.lines().skip(1).any(|l| {
        let mut f = l.split_whitespace();
        let local = f.nth(1).unwrap_or("");
        let state = f.nth(1).unwrap_or("");
        state == "0A" && wanted.iter().any(|w| w == local)
    })
}
