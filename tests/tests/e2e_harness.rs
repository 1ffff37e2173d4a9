//! The harness itself against the real daemons: a Postfix instance that sends, defers and
//! bounces, and the VictoriaMetrics stack scraping something real.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::time::Duration;

use e2e_tests::postfix::CLOSED_RELAYHOST;
use e2e_tests::{
    NotifierSink, Postfix, PostfixOptions, Prometheus, SmtpSink, VictoriaMetrics, VmAgent, VmAlert,
    scrape_config,
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
