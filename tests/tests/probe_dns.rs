//! Name resolution of the prober against a real DNS server (Debian's dnsmasq on a loopback
//! port, `--dns.server`): MX lookup of a mail domain (the lowest preference wins) probed on a
//! real Postfix, the address-family preference with and without fallback, and a name that
//! does not exist.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

use e2e_tests::probe::Prober;
use e2e_tests::{Daemon, Postfix, PostfixOptions};

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn mx_lookup_and_family_preference_through_dnsmasq() {
    let port = free_udp_port();
    let dir = e2e_tests::temp_dir("dnsmasq-").unwrap();
    let mut cmd = Command::new("dnsmasq");
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--pid-file=",
        "--log-facility=-",
        "--log-queries",
    ])
    .arg(format!("--port={port}"))
    .args([
        // The preference-10 exchanger is Postfix; the preference-20 one answers nothing.
        "--mx-host=mail.test,mx1.mail.test,10",
        "--mx-host=mail.test,mx2.mail.test,20",
        "--host-record=mx1.mail.test,127.0.0.1",
        "--host-record=mx2.mail.test,127.0.0.2",
        "--host-record=dual.test,127.0.0.1,::1",
        "--host-record=v4only.test,127.0.0.1",
    ]);
    let mut dns = Daemon::spawn("dnsmasq", cmd, dir.path()).unwrap();
    let log = dns.log_path().to_path_buf();
    dns.wait_until("dnsmasq started", Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("started")
    })
    .unwrap();
    let pf = Postfix::start(PostfixOptions::new()).unwrap();
    let smtp_port = pf.smtp_port();
    // A listener on [::1] of the same port shows which family was connected to.
    let v6 = TcpListener::bind(("::1", smtp_port)).ok();
    let p = Prober::start(
        "modules:
  mx:
    prober: smtp
    smtp: { mx_lookup: true }
  plain:
    prober: smtp
  v6_first:
    prober: smtp
    preferred_ip_protocol: ip6
    ip_protocol_fallback: false
  v6_first_fallback:
    prober: smtp
    preferred_ip_protocol: ip6
",
        &[&format!("--dns.server=127.0.0.1:{port}")],
    )
    .unwrap();
    let r = p.probe("mx", &format!("mail.test:{smtp_port}")).unwrap();
    assert!(
        r.success(),
        "{}",
        p.debug("mx", &format!("mail.test:{smtp_port}")).unwrap()
    );
    assert!(r.value("probe_dns_lookup_time_seconds", &[]).unwrap() > 0.0);
    let dbg = p.debug("mx", &format!("mail.test:{smtp_port}")).unwrap();
    assert!(
        dbg.contains(&format!("connecting to 127.0.0.1:{smtp_port}")),
        "{dbg}"
    );
    assert!(dns.log().contains("query[MX] mail.test"), "{}", dns.log());

    let r = p
        .probe("plain", &format!("v4only.test:{smtp_port}"))
        .unwrap();
    assert!(r.success());
    assert_eq!(r.value("probe_ip_protocol", &[]), Some(4.0));
    let r = p
        .probe("v6_first", &format!("v4only.test:{smtp_port}"))
        .unwrap();
    assert_eq!(r.failure(), Some(("resolve".into(), "dns".into())));
    let r = p
        .probe("v6_first_fallback", &format!("v4only.test:{smtp_port}"))
        .unwrap();
    assert!(r.success());
    if v6.is_some() {
        // dual.test has both: IPv6 first reaches the [::1] listener, which never answers.
        let r = p
            .probe_with("v6_first", &format!("dual.test:{smtp_port}"), "", 1.5)
            .unwrap();
        assert_eq!(r.value("probe_ip_protocol", &[]), Some(6.0));
        assert_eq!(r.failure(), Some(("banner".into(), "timeout".into())));
    }
    let r = p
        .probe("plain", &format!("nonexistent.test:{smtp_port}"))
        .unwrap();
    assert_eq!(r.failure(), Some(("resolve".into(), "dns".into())));
    // An MX lookup of a domain without MX fails in resolve too.
    let r = p.probe("mx", &format!("v4only.test:{smtp_port}")).unwrap();
    assert_eq!(r.failure(), Some(("resolve".into(), "dns".into())));
}
