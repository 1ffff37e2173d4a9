//! FTP and FTPS: greeting, AUTH TLS with PBSZ/PROT P (explicit FTPS) or implicit TLS,
//! login, a passive data channel (PASV or EPSV) carrying a LIST or a RETR. The data
//! channel is where FTP breaks behind NAT and load balancers, so it has phases of its own
//! and the PASV address is checked against the control connection's.

use std::net::{IpAddr, SocketAddr};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::config::{FtpData, FtpSection, TlsMode};
use crate::reply::ftp::{FtpReplyBuilder, parse_epsv, parse_pasv};
use crate::reply::smtp::Reply;
use crate::session::{Fail, Reason, Session, Step};

use super::smtp::expect;
use super::{open, password};

/// The most bytes read from the data channel.
const MAX_DATA_BYTES: u64 = 64 << 20;
/// Reads one complete reply (RFC 959's multi-line rule).
pub async fn read_reply(s: &mut Session) -> Step<Reply> {
    super::smtp::read_reply_with::<FtpReplyBuilder>(s).await
}

async fn command(s: &mut Session, line: &str) -> Step<Reply> {
    s.send(line).await?;
    read_reply(s).await
}

/// The `ftp` prober.
pub async fn run(s: &mut Session) -> Step {
    let module = std::sync::Arc::clone(&s.module);
    let cfg = &module.ftp;
    open(s, cfg.tls, &cfg.tls_config).await?;
    s.phase("banner");
    let r = read_reply(s).await?;
    expect(&r, Some(220), "greeting")?;
    let mut protected = cfg.tls == TlsMode::Implicit;
    if cfg.tls == TlsMode::Starttls {
        s.phase("starttls");
        let r = command(s, "AUTH TLS").await?;
        if r.code == 234 {
            s.start_tls(&cfg.tls_config, &[]).await?;
            protected = true;
        } else {
            s.note(&format!("AUTH TLS refused: {}", r.summary()));
            super::tls_not_offered(s, cfg.tls_required, "AUTH TLS")?;
        }
    }
    if protected {
        s.phase("starttls");
        let r = command(s, "PBSZ 0").await?;
        expect(&r, Some(200), "PBSZ")?;
        let r = command(s, "PROT P").await?;
        expect(&r, Some(200), "PROT P")?;
    }
    s.phase("login");
    let (user, pw) = match &cfg.auth {
        Some(a) => (a.username.clone(), password(s, a)?),
        None => ("anonymous".to_string(), "mailprobe@".to_string()),
    };
    let r = command(s, &format!("USER {user}")).await?;
    match r.code {
        230 => {}
        331 | 332 => {
            s.send_masked(&format!("PASS {pw}"), "PASS <masked>")
                .await?;
            let r = read_reply(s).await?;
            match r.code {
                230 | 202 => {}
                530 => {
                    return Err(Fail::new(
                        Reason::Auth,
                        format!("login refused: {}", r.summary()),
                    ));
                }
                _ => expect(&r, Some(230), "PASS")?,
            }
        }
        530 => {
            return Err(Fail::new(
                Reason::Auth,
                format!("login refused: {}", r.summary()),
            ));
        }
        _ => expect(&r, Some(331), "USER")?,
    }
    if cfg.data != FtpData::None {
        transfer(s, cfg, protected).await?;
    }
    s.phase("quit");
    s.send("QUIT").await?;
    let answer = read_reply(s).await;
    if let Ok(r) = &answer {
        expect(r, Some(221), "QUIT")?;
    }
    s.end_quit(answer).await
}

/// Opens the passive data channel, runs LIST or RETR over it and reads it to the end.
async fn transfer(s: &mut Session, cfg: &FtpSection, protected: bool) -> Step {
    let peer = s
        .peer
        .ok_or_else(|| Fail::new(Reason::Network, "not connected"))?;
    if cfg.retr.is_some() {
        s.phase("pasv");
        let r = command(s, "TYPE I").await?;
        expect(&r, Some(200), "TYPE I")?;
    }
    s.phase("pasv");
    let data_addr = match cfg.data {
        FtpData::Epsv => {
            let r = command(s, "EPSV").await?;
            expect(&r, Some(229), "EPSV")?;
            let port = parse_epsv(r.lines.last().map(String::as_str).unwrap_or(""))
                .map_err(|e| Fail::new(Reason::Protocol, e.to_string()))?;
            SocketAddr::new(peer.ip(), port)
        }
        _ => {
            if peer.is_ipv6() {
                return Err(Fail::new(
                    Reason::Protocol,
                    "PASV cannot carry an IPv6 address; use data: epsv for IPv6 targets",
                ));
            }
            let r = command(s, "PASV").await?;
            expect(&r, Some(227), "PASV")?;
            let (ip, port) = parse_pasv(r.lines.last().map(String::as_str).unwrap_or(""))
                .map_err(|e| Fail::new(Reason::Protocol, e.to_string()))?;
            // A different address is the classic NAT/MasqueradeAddress or load-balancer
            // fault; connecting anyway would also let a server point the probe anywhere.
            if IpAddr::V4(ip) != peer.ip() {
                return Err(Fail::new(
                    Reason::PasvAddressMismatch,
                    format!(
                        "PASV names {ip}, the control connection is to {}",
                        peer.ip()
                    ),
                ));
            }
            SocketAddr::new(peer.ip(), port)
        }
    };
    s.note(&format!("data channel: connecting to {data_addr}"));
    let tcp = TcpStream::connect(data_addr).await.map_err(|e| {
        let mut f = Fail::io(&e);
        f.detail = format!("data channel {data_addr}: {}", f.detail);
        f
    })?;
    let (verb, phase) = match &cfg.retr {
        Some(path) => (format!("RETR {path}"), "retr"),
        None => (
            match &cfg.list {
                Some(dir) => format!("LIST {dir}"),
                None => "LIST".to_string(),
            },
            "list",
        ),
    };
    s.phase(phase);
    let r = command(s, &verb).await?;
    if !(r.code == 150 || r.code == 125) {
        return Err(Fail::new(
            Reason::UnexpectedReply,
            format!(
                "{}: expected 150, got {}",
                verb.split(' ').next().unwrap_or(""),
                r.summary()
            ),
        ));
    }
    s.phase("transfer");
    let bytes = if protected {
        let (config, name) = s
            .tls_client
            .clone()
            .ok_or_else(|| Fail::new(Reason::Tls, "no TLS client for the data channel"))?;
        // The same client config resumes the control connection's session, which
        // ProFTPd and vsftpd require on the data channel by default.
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| Fail::new(Reason::Tls, format!("data channel TLS handshake: {e}")))?;
        read_all(tls).await?
    } else {
        read_all(tcp).await?
    };
    s.note(&format!("data channel: {bytes} bytes"));
    let r = read_reply(s).await?;
    expect(&r, Some(226), "end of transfer")?;
    s.gauge(
        "probe_ftp_transfer_bytes",
        "Bytes received over the FTP data channel",
        bytes as f64,
    );
    Ok(())
}

async fn read_all<R: tokio::io::AsyncRead + Unpin>(mut r: R) -> Step<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf).await {
            Ok(0) => return Ok(total),
            Ok(n) => {
                total += n as u64;
                if total > MAX_DATA_BYTES {
                    return Err(Fail::new(
                        Reason::TooLarge,
                        format!("data channel sent more than {MAX_DATA_BYTES} bytes"),
                    ));
                }
            }
            // A TLS data channel closed without close_notify still delivered its bytes;
            // the 226 reply says whether the transfer was complete.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(total),
            Err(e) => return Err(Fail::io(&e)),
        }
    }
}
