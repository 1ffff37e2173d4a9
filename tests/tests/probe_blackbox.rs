//! Debian's blackbox_exporter (0.23, tcp prober with query_response scripts, the way mail
//! operators use it today) beside mailprobe-exporter, against the same targets in one run:
//! a real Postfix with STARTTLS, a real Dovecot with a wrong password, a server greeting
//! with 421, and a black hole. What each can see is in docs/probe.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e_tests::expo::{samples, value};
use e2e_tests::http::{get, urlencode};
use e2e_tests::pki::Pki;
use e2e_tests::probe::Prober;
use e2e_tests::{Daemon, Dovecot, DovecotOptions, Postfix, PostfixOptions, net};

const BLACKBOX: &str = r#"
modules:
  smtp_starttls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^220 "
        - send: "EHLO prober.test.local\r"
        - expect: "^250[ -]STARTTLS"
        - send: "STARTTLS\r"
        - expect: "^220"
        - starttls: true
        - send: "EHLO prober.test.local\r"
        - expect: "^250 "
        - send: "QUIT\r"
      tls_config: { insecure_skip_verify: true }
  imap_banner:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^\\* OK"
        - send: "a1 LOGOUT\r"
"#;

struct Blackbox {
    _daemon: Daemon,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Blackbox {
    fn start() -> Blackbox {
        let dir = e2e_tests::temp_dir("blackbox-").unwrap();
        let cfg = dir.path().join("blackbox.yml");
        std::fs::write(&cfg, BLACKBOX).unwrap();
        let port = net::free_port();
        let mut cmd = Command::new("prometheus-blackbox-exporter");
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        let mut d = Daemon::spawn("blackbox", cmd, dir.path()).unwrap();
        d.wait_http_ok(
            &format!("http://127.0.0.1:{port}/-/healthy"),
            Duration::from_secs(20),
        )
        .unwrap();
        Blackbox {
            _daemon: d,
            port,
            _dir: dir,
        }
    }

    /// `(probe_success, probe_duration_seconds, the body)` with a scrape timeout of `t` s.
    fn probe(&self, module: &str, target: &str, t: f64) -> (bool, f64, String) {
        let url = format!(
            "http://127.0.0.1:{}/probe?module={module}&target={}",
            self.port,
            urlencode(target)
        );
        let body = get(
            &url,
            &[("X-Prometheus-Scrape-Timeout-Seconds", &t.to_string())],
        )
        .unwrap()
        .text();
        let s = samples(&body);
        (
            value(&s, "probe_success", &[]) == Some(1.0),
            value(&s, "probe_duration_seconds", &[]).unwrap(),
            body,
        )
    }
}

fn fake_421() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = s.write_all(b"421 4.3.2 Service shutting down\r\n");
            // Keep the connection open, as a server busy closing may.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(10));
                drop(s);
            });
        }
    });
    port
}

#[test]
fn blackbox_and_mailprobe_on_the_same_targets() {
    let pki = Pki::new().unwrap();
    let pf = Postfix::start(PostfixOptions::new().tls(&pki)).unwrap();
    let dovecot = Dovecot::start(DovecotOptions::new().imap()).unwrap();
    let (alice, _) = e2e_tests::dovecot::TEST_USERS[0];
    let bb = Blackbox::start();
    let p = Prober::start(
        &format!(
            "modules:
  smtp_starttls:
    prober: smtp
    timeout: 5s
    smtp: {{ tls: starttls, tls_config: {{ insecure_skip_verify: true }} }}
  imap_login:
    prober: imap
    timeout: 5s
    imap: {{ auth: {{ username: \"{alice}\", password_file: \"@dir@/wrong\" }} }}
"
        ),
        &[],
    )
    .unwrap();
    Prober::secret(p.dir.path(), "wrong", "not-alices-password").unwrap();
    let smtp = pf.smtp_addr().to_string();

    // Postfix with STARTTLS: both succeed; only mailprobe says how long each step took.
    let (ok, _, body) = bb.probe("smtp_starttls", &smtp, 10.0);
    assert!(ok, "{body}");
    assert!(!body.contains("probe_phase_duration_seconds"));
    let r = p.probe("smtp_starttls", &smtp).unwrap();
    assert!(r.success());
    assert!(
        r.value("probe_phase_duration_seconds", &[("phase", "starttls")])
            .is_some()
    );
    assert!(
        r.value("probe_phase_duration_seconds", &[("phase", "tls")])
            .is_some()
    );
    assert_eq!(
        r.value("probe_ssl_earliest_cert_expiry", &[]),
        value(&samples(&body), "probe_ssl_earliest_cert_expiry", &[])
    );

    // A 421 greeting: blackbox waits for its regex until the timeout; mailprobe stops at
    // once and says why.
    let port = fake_421();
    let t = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let (ok, bb_secs, _) = bb.probe("smtp_starttls", &t, 3.0);
    assert!(!ok);
    assert!(bb_secs >= 2.0, "blackbox took {bb_secs} s");
    assert!(started.elapsed() >= Duration::from_secs(2));
    let r = p.probe_with("smtp_starttls", &t, "", 3.0).unwrap();
    assert_eq!(
        r.failure(),
        Some(("banner".into(), "unexpected_reply".into()))
    );
    assert_eq!(r.value("probe_last_reply_code", &[]), Some(421.0));
    assert!(r.value("probe_duration_seconds", &[]).unwrap() < 1.0);

    // A black hole: both fail after the budget; mailprobe names the phase.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let h = hole.local_addr().unwrap().to_string();
    let (ok, _, _) = bb.probe("smtp_starttls", &h, 2.0);
    assert!(!ok);
    let r = p.probe_with("smtp_starttls", &h, "", 2.0).unwrap();
    assert_eq!(r.failure(), Some(("banner".into(), "timeout".into())));

    // IMAP with a wrong password: blackbox can only see the banner, which is fine.
    let imap = dovecot.addr("imap").unwrap().to_string();
    let (ok, _, _) = bb.probe("imap_banner", &imap, 10.0);
    assert!(ok);
    let r = p.probe("imap_login", &imap).unwrap();
    assert_eq!(r.failure(), Some(("login".into(), "auth".into())));
}
