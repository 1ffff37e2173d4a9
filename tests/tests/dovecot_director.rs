//! `dovecot-exporter`'s director collector against a real Dovecot 2.3.19 director: a
//! single-node ring on 127.0.0.1 proxying IMAP to two backends on 127.0.0.2 and 127.0.0.3
//! (the ISP layout in miniature). After logins through the director, what the exporter
//! serves equals `doveadm director status` and `doveadm director ring status`, and it
//! follows `director down` and `director update`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use e2e_tests::expo::{ExpoSample, samples, value};
use e2e_tests::exporter::ACCEPT_TEXT;
use e2e_tests::{Dovecot, DovecotOptions, Exporter, net, wait_for};

const BIN: &str = "dovecot-exporter";

/// Users known to both backends (the director accepts anyone; the backend checks).
const USERS: [&str; 6] = ["u1", "u2", "u3", "u4", "u5", "u6"];

fn backend(ip: Ipv4Addr, port: u16) -> Dovecot {
    let mut o = DovecotOptions::new()
        .listen(ip)
        .protocol("imap")
        .fixed_port(port)
        .config(&format!(
            "login_trusted_networks = 127.0.0.1
service imap-login {{
  inet_listener imap {{
    address = @listen@
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"
        ));
    for u in USERS {
        o = o.user(&format!("{u}@test.local"), &format!("{u}-pw"));
    }
    Dovecot::start(o).expect("start backend")
}

fn director(backend_port: u16) -> Dovecot {
    let o = DovecotOptions::new()
        .no_default_auth()
        .protocol("imap")
        .port("imap")
        .port("director")
        .config(&format!(
            "director_servers = 127.0.0.1:@port:director@
director_mail_servers = 127.0.0.2 127.0.0.3
passdb {{
  driver = static
  args = proxy=y nopassword=y port={backend_port}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home=/nonexistent
}}
service director {{
  unix_listener login/director {{
    mode = 0666
  }}
  fifo_listener login/proxy-notify {{
    mode = 0666
  }}
  unix_listener director-userdb {{
    mode = 0600
  }}
  inet_listener {{
    port = @port:director@
  }}
}}
service imap-login {{
  executable = imap-login director
  inet_listener imap {{
    address = 127.0.0.1
    port = @port:imap@
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"
        ));
    Dovecot::start(o).expect("start director")
}

fn scrape(e: &Exporter) -> Vec<ExpoSample> {
    samples(&e.scrape(ACCEPT_TEXT).expect("scrape").text())
}

/// backend ip → (vhosts, state, users) from `doveadm -f tab director status`.
fn doveadm_hosts(d: &Dovecot) -> BTreeMap<String, (f64, String, f64)> {
    let out = d.doveadm(&["-f", "tab", "director", "status"]).unwrap();
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (
                c[col("mail server ip")].to_string(),
                (
                    c[col("vhosts")].parse().unwrap(),
                    c[col("state")].to_string(),
                    c[col("users")].parse().unwrap(),
                ),
            )
        })
        .collect()
}

fn ours(s: &[ExpoSample]) -> BTreeMap<String, (f64, String, f64)> {
    s.iter()
        .filter(|x| x.name == "dovecot_director_backend_vhosts")
        .map(|x| {
            let ip = x.label("backend");
            let l = [("backend", ip)];
            let up = value(s, "dovecot_director_backend_up", &l).unwrap();
            (
                ip.to_string(),
                (
                    x.value,
                    if up == 1.0 { "up" } else { "down" }.to_string(),
                    value(s, "dovecot_director_backend_users", &l).unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn director_backends_and_ring_equal_doveadm() {
    let port = net::free_port();
    let _b2 = backend(Ipv4Addr::new(127, 0, 0, 2), port);
    let _b3 = backend(Ipv4Addr::new(127, 0, 0, 3), port);
    let d = director(port);
    let proxy = d.imap_addr().unwrap();
    for u in USERS {
        let user = format!("{u}@test.local");
        // Through the director: the login is proxied and the backend checks the password.
        let s = std::net::TcpStream::connect(proxy).unwrap();
        Dovecot::imap_session_on(&s, &user, &format!("{u}-pw")).unwrap();
    }
    let admin = d.instance().run_dir().join("director-admin");
    let e = Exporter::start(
        BIN,
        &[
            "--no-collector.stats",
            "--no-collector.sessions",
            "--no-collector.log",
            "--collector.director",
            &format!("--dovecot.director.address={}", admin.display()),
        ],
    )
    .unwrap();
    let s = scrape(&e);
    let want = doveadm_hosts(&d);
    assert_eq!(want.len(), 2, "{want:?}");
    let total: f64 = want.values().map(|v| v.2).sum();
    assert_eq!(total, USERS.len() as f64, "{want:?}");
    assert_eq!(ours(&s), want);
    assert_eq!(value(&s, "dovecot_director_users", &[]), Some(total));
    assert_eq!(value(&s, "dovecot_director_ring_synced", &[]), Some(1.0));
    assert_eq!(value(&s, "dovecot_director_ring_members", &[]), Some(1.0));
    assert_eq!(
        value(&s, "dovecot_director_unreadable_lines", &[]),
        Some(0.0)
    );
    let ring = d
        .doveadm(&["-f", "tab", "director", "ring", "status"])
        .unwrap();
    assert!(
        ring.contains("\tself\t") && ring.contains("ring synced"),
        "{ring}"
    );

    // An operator takes a backend down and reweights the other.
    d.doveadm(&["director", "down", "127.0.0.3"]).unwrap();
    d.doveadm(&["director", "update", "127.0.0.2", "50"])
        .unwrap();
    let s = scrape(&e);
    let want = doveadm_hosts(&d);
    assert_eq!(want["127.0.0.3"].1, "down");
    assert_eq!(want["127.0.0.2"].0, 50.0);
    assert_eq!(ours(&s), want);
    let changed = value(
        &s,
        "dovecot_director_backend_last_state_change_timestamp_seconds",
        &[("backend", "127.0.0.3")],
    )
    .unwrap();
    assert!(changed > 1.7e9, "{changed}");
    // The socket gone: the collector fails, the scrape still answers.
    drop(d);
    wait_for("director gone", Duration::from_secs(10), || {
        value(
            &scrape(&e),
            "dovecot_scrape_collector_success",
            &[("collector", "director")],
        ) == Some(0.0)
    });
}
