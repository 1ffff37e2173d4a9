//! The harness itself against the real daemons: a Postfix instance that sends, defers and
//! bounces, a Dovecot instance that authenticates and serves IMAP, and the VictoriaMetrics
//! stack scraping something real.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::time::Duration;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use e2e_tests::dovecot::{PasswordScheme, TEST_USERS};
use e2e_tests::postfix::CLOSED_RELAYHOST;
use e2e_tests::{
    Dovecot, DovecotOptions, NotifierSink, Postfix, PostfixOptions, Prometheus, SmtpSink,
    VictoriaMetrics, VmAgent, VmAlert, scrape_config,
};

#[test]
fn postfix_instance_sends_defers_and_bounces() {
    let sink = SmtpSink::start(false).unwrap();
    let bouncer = SmtpSink::start(true).unwrap();
    let pf = Postfix::start(
        PostfixOptions::new()
            .showq_inet()
            .transport("sink.test", &sink.nexthop())
            .transport("bounce.test", &bouncer.nexthop()),
    )
    .unwrap();
    assert_eq!(
        pf.postconf(&["-h", "relayhost"]).unwrap().trim(),
        CLOSED_RELAYHOST
    );
    let body = "Subject: harness\n\nhello\n";
    pf.sendmail("alice@mx.test.local", &["bob@sink.test"], body)
        .unwrap();
    pf.sendmail("alice@mx.test.local", &["carol@bounce.test"], body)
        .unwrap();
    pf.sendmail("alice@mx.test.local", &["dave@example.com"], body)
        .unwrap();
    let t = pf
        .smtp_send("alice@sink.test", &["erin@example.org"], body)
        .unwrap();
    assert!(t.last().unwrap().starts_with("QUIT -> 221"), "{t:?}");

    let counts = pf.wait_deferred(2, Duration::from_secs(30)).unwrap();
    assert_eq!(counts["hold"], 0);
    let log = pf
        .wait_log("status=sent", 1, Duration::from_secs(30))
        .unwrap();
    assert_eq!(log.matches("status=sent").count(), 1, "{log}");
    let log = pf
        .wait_log("status=bounced", 1, Duration::from_secs(30))
        .unwrap();
    assert!(log.contains("to=<carol@bounce.test>"), "{log}");
    assert!(
        log.contains("connect to 127.0.0.1[127.0.0.1]:1: Connection refused"),
        "{log}"
    );

    let q = pf.postqueue_j().unwrap();
    assert_eq!(q.lines().count(), 2, "{q}");
    assert!(pf.mailq().unwrap().contains("dave@example.com"));
    let shape = pf.qshape(&["deferred"]).unwrap();
    assert!(shape.contains("example.com"), "{shape}");

    // The showq inet service speaks first; Postfix 3.6+ opens with the protocol record.
    let mut s = std::net::TcpStream::connect(pf.showq_addr().unwrap()).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut raw).unwrap();
    assert!(raw.starts_with(b"protocol\0mail_queue_list_protocol\0\0"));
    assert_eq!(
        String::from_utf8_lossy(&raw).matches("queue_id\0").count(),
        2
    );
    assert!(pf.showq_socket_path().exists());

    pf.postsuper(&["-h", "ALL"]).unwrap();
    let counts = pf.queue_counts().unwrap();
    assert_eq!((counts["hold"], counts["deferred"]), (2, 0));

    pf.logrotate().unwrap();
    let rotated: Vec<String> = std::fs::read_dir(pf.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("maillog."))
        .collect();
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    pf.sendmail("alice@mx.test.local", &["bob@sink.test"], body)
        .unwrap();
    let log = pf
        .wait_log("status=sent", 1, Duration::from_secs(30))
        .unwrap();
    assert!(!log.contains("carol@bounce.test"), "{log}");
}

#[test]
fn two_postfix_instances_are_independent() {
    let a = Postfix::start(PostfixOptions::new()).unwrap();
    let b = Postfix::start(PostfixOptions::new()).unwrap();
    assert_ne!(a.smtp_port(), b.smtp_port());
    a.sendmail("x@mx.test.local", &["y@example.com"], "Subject: a\n\n.\n")
        .unwrap();
    a.wait_deferred(1, Duration::from_secs(30)).unwrap();
    assert_eq!(b.queue_counts().unwrap()["deferred"], 0);
    let pid = a.master_pid().unwrap();
    drop(a);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

/// Sends one tagged IMAP command and returns the tagged reply line.
fn imap(w: &mut TcpStream, r: &mut BufReader<TcpStream>, tag: &str, cmd: &str) -> String {
    w.write_all(format!("{tag} {cmd}\r\n").as_bytes()).unwrap();
    loop {
        let mut line = String::new();
        assert_ne!(
            r.read_line(&mut line).unwrap(),
            0,
            "IMAP closed after {cmd}"
        );
        if line.starts_with(&format!("{tag} ")) {
            return line.trim_end().to_string();
        }
    }
}

#[test]
fn dovecot_instance_authenticates_and_serves_imap() {
    let mut dc = Dovecot::start(
        DovecotOptions::new()
            .imap()
            .user("carol@test.local", "carol-secret-3"),
    )
    .unwrap();
    assert_eq!(dc.users().len(), TEST_USERS.len() + 1);
    let socket = dc.auth_socket_path();
    assert!(
        socket.is_absolute() && socket.starts_with(dc.dir()),
        "{socket:?}"
    );
    // What Postfix's smtpd will be offered on that socket.
    assert_eq!(dc.auth_mechanisms().unwrap(), ["PLAIN", "LOGIN"]);
    let (user, password) = dc.users()[0].clone();
    assert!(dc.auth_test(&user, &password).unwrap());
    assert!(!dc.auth_test(&user, "wrong").unwrap());
    assert!(dc.auth_test("carol@test.local", "carol-secret-3").unwrap());

    let imap_port = dc.port("imap").unwrap();
    assert!(e2e_tests::net::tcp_listening(imap_port));
    // The start did not probe the listener with a connection.
    assert!(!dc.log().contains("imap-login"), "{}", dc.log());
    let stream = TcpStream::connect(dc.imap_addr().unwrap()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let no = imap(&mut w, &mut r, "a1", &format!("LOGIN {user} wrong"));
    assert!(no.starts_with("a1 NO"), "{no}");
    let ok = imap(&mut w, &mut r, "a2", &format!("LOGIN {user} {password}"));
    assert!(ok.starts_with("a2 OK"), "{ok}");
    // The maildir is created under the temp dir by the mail user.
    let sel = imap(&mut w, &mut r, "a3", "SELECT INBOX");
    assert!(sel.starts_with("a3 OK"), "{sel}");
    imap(&mut w, &mut r, "a4", "LOGOUT");
    assert!(dc.dir().join("mail").join(&user).join("Maildir").is_dir());
    let log = dc.log();
    assert!(
        log.contains(&format!("Login: user=<{user}>, method=PLAIN")),
        "{log}"
    );

    let master = dc.master_pid().unwrap();
    dc.stop().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{master}")).exists());
    assert!(!e2e_tests::net::tcp_listening(imap_port));
}

#[test]
fn dovecot_hashes_passwords_at_setup() {
    let dc =
        Dovecot::start(DovecotOptions::new().password_scheme(PasswordScheme::Sha512Crypt)).unwrap();
    let users = std::fs::read_to_string(dc.dir().join("etc/users")).unwrap();
    assert_eq!(
        users.matches("{SHA512-CRYPT}$6$").count(),
        TEST_USERS.len(),
        "{users}"
    );
    for (user, password) in TEST_USERS {
        assert!(!users.contains(password));
        assert!(dc.auth_test(user, password).unwrap());
    }
    // Auth only: no TCP listener at all.
    assert!(dc.imap_addr().is_none());
}

#[test]
fn vm_stack_scrapes_itself_and_alerts() {
    let vm = VictoriaMetrics::start().unwrap();
    // vmagent scrapes VictoriaMetrics' own /metrics.
    let target = vm.url().trim_start_matches("http://").to_string();
    let _agent = VmAgent::start(&scrape_config("vm", &target, "/metrics"), &vm).unwrap();
    let up = vm
        .wait_for_query(r#"up{job="vm"}"#, |s| s.len() == 1, Duration::from_secs(30))
        .unwrap();
    assert_eq!(up[0].value, 1.0);
    assert_eq!(up[0].label("instance"), target);

    let dir = e2e_tests::temp_dir("rules-").unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: t\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n    labels:\n      severity: info\n",
    )
    .unwrap();
    let alert = VmAlert::start(&[rules], &vm.url()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while alert.notifications().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let n = alert.notifications();
    assert!(n.iter().any(|n| n.body.contains("AlwaysFiring")), "{n:?}");
    assert_eq!(n[0].path, "/api/v2/alerts");
    assert_eq!(alert.alerts().unwrap().len(), 1);
}

#[test]
fn prometheus_scrapes_an_empty_target() {
    // An HTTP server answering 200 with an empty body: a valid, empty exposition.
    let sink = NotifierSink::start().unwrap();
    let target = sink.url().trim_start_matches("http://").to_string();
    let prom = Prometheus::start(&scrape_config("sink", &target, "/metrics")).unwrap();
    let up = prom
        .wait_for_query(
            r#"up{job="sink"}"#,
            |s| s.len() == 1,
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(up[0].value, 1.0);
}
