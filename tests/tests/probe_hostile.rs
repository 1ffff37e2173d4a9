//! Hostile and broken servers for every prober (unit-style edge cases of the protocol
//! state machines; the real-daemon tests are beside this file): a greeting dripped a byte a
//! second, a bad base64 SASL challenge, an IMAP literal of a terabyte, an IMAP server that
//! says BYE, an endless POP3 listing, an FTP server whose EPSV reply is nonsense, an HTTP
//! server that answers garbage. Every probe ends within its budget with a reason, and the
//! exporter keeps serving.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use e2e_tests::probe::Prober;

/// A server that writes `greeting`, then for each line it reads writes the reply of the
/// first rule whose prefix the line starts with (`None`: close).
fn scripted(
    greeting: &'static [u8],
    rules: &'static [(&'static str, Option<&'static [u8]>)],
) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                if w.write_all(greeting).is_err() {
                    return;
                }
                for line in BufReader::new(s).lines() {
                    let Ok(line) = line else { return };
                    let rule = rules.iter().find(|(p, _)| line.starts_with(p));
                    match rule {
                        Some((_, Some(reply))) => {
                            if w.write_all(reply).is_err() {
                                return;
                            }
                        }
                        _ => return,
                    }
                }
            });
        }
    });
    addr
}

const MODULES: &str = r#"
modules:
  smtp_login:
    prober: smtp
    timeout: 3s
    smtp: { auth: { mechanism: login, username: u, password_env: PW } }
  imap:
    prober: imap
    timeout: 3s
    imap: { auth: { username: u, password_env: PW }, mailbox: INBOX }
  pop3:
    prober: pop3
    timeout: 3s
    pop3: { auth: { username: u, password_env: PW } }
  ftp_epsv:
    prober: ftp
    timeout: 3s
    ftp: { data: epsv }
  http:
    prober: http
    timeout: 3s
"#;

#[test]
fn hostile_servers_end_with_a_reason() {
    let p = Prober::start_with_env(MODULES, &[], &[("PW", "s3cret-pw")]).unwrap();
    let check = |module: &str, target: &str, phase: &str, reason: &str| {
        let t = Instant::now();
        let r = p.probe_with(module, target, "", 3.0).unwrap();
        assert_eq!(
            r.failure(),
            Some((phase.to_string(), reason.to_string())),
            "{module}: {}",
            r.body
        );
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "{module} took {:?}",
            t.elapsed()
        );
        assert!(!r.body.contains("s3cret-pw"));
    };

    // A greeting dripped one byte a second never completes within the budget.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let drip = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                for b in b"220 slowly, very slowly\r\n" {
                    if s.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
    });
    check("smtp_login", &drip, "banner", "timeout");

    let bad_b64 = scripted(
        b"220 x ESMTP\r\n",
        &[
            ("EHLO", Some(b"250-x\r\n250 AUTH LOGIN\r\n")),
            ("AUTH LOGIN", Some(b"334 !!not base64!!\r\n")),
        ],
    );
    check("smtp_login", &bad_b64, "auth", "protocol");

    let literal = scripted(
        b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
        &[
            ("p1 LOGIN", Some(b"p1 OK in\r\n")),
            ("p2 EXAMINE", Some(b"* 1 FETCH (BODY[] {999999999999}\r\n")),
        ],
    );
    check("imap", &literal, "select", "too_large");
    let bye = scripted(
        b"* OK hi\r\n",
        &[("p1 CAPABILITY", Some(b"* BYE going away\r\n"))],
    );
    check("imap", &bye, "capability", "closed");
    let garbage = scripted(b"HTTP/1.1 400 Bad Request\r\n", &[]);
    check("imap", &garbage, "banner", "protocol");

    let endless: &'static [u8] = Box::leak(
        b"+OK capabilities\r\n"
            .iter()
            .chain(b"X-FILLER some capability line\r\n".repeat(600_000).iter())
            .copied()
            .collect::<Vec<u8>>()
            .into_boxed_slice(),
    );
    let pop = scripted(
        b"+OK ready\r\n",
        Box::leak(Box::new([("CAPA", Some(endless))])),
    );
    check("pop3", &pop, "capability", "too_large");

    let epsv = scripted(
        b"220 ftp\r\n",
        &[
            ("USER", Some(b"331 pw\r\n")),
            ("PASS", Some(b"230 ok\r\n")),
            (
                "EPSV",
                Some(b"229 Entering Extended Passive Mode (|||99999|)\r\n"),
            ),
        ],
    );
    check("ftp_epsv", &epsv, "pasv", "protocol");

    // The garbage is written only after the whole request has been read, and the
    // connection stays open until the prober hangs up: closing with the request still
    // unread would make the kernel send a reset, and the prober would see `network`.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let mut lines = BufReader::new(s).lines();
                for line in lines.by_ref() {
                    match line {
                        Ok(l) if l.is_empty() => break,
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
                if w.write_all(b"SMTP? no: 220 definitely not HTTP\r\n\r\n")
                    .is_err()
                {
                    return;
                }
                for _ in lines {}
            });
        }
    });
    check("http", &format!("http://{http}/"), "processing", "protocol");

    // After all that the exporter still serves.
    assert!(p.self_metrics().is_ok());
}
