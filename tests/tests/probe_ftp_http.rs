//! The FTP prober against a real ProFTPd 1.3.8 (PASV and EPSV, LIST and RETR, FTPS with
//! AUTH TLS and PROT P under ProFTPd's default TLS session-reuse requirement, a wrong
//! password, a MasqueradeAddress that breaks the data channel), the HTTP prober against
//! a local HTTP and HTTPS server, and the security and request contract of /probe: the
//! allow list (403 and its counter), unknown modules and targets (400), and reloads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use e2e_tests::expo::value;
use e2e_tests::http;
use e2e_tests::pki::Pki;
use e2e_tests::probe::{HttpTargets, Prober};
use e2e_tests::proftpd::{FTP_USERS, ProFtpd, ProFtpdOptions};

#[test]
fn ftp_probes_against_real_proftpd() {
    let ftpd = ProFtpd::start(ProFtpdOptions::new().tls_session_reuse_required()).unwrap();
    let (alice, alice_pw) = FTP_USERS[0];
    let file = ftpd.home(alice).join("probe.dat");
    std::fs::write(&file, vec![b'z'; 12_345]).unwrap();
    std::os::unix::fs::chown(
        &file,
        Some(e2e_tests::proftpd::FTP_UID),
        Some(e2e_tests::proftpd::FTP_UID),
    )
    .unwrap();
    let masq =
        ProFtpd::start(ProFtpdOptions::new().config("MasqueradeAddress 192.0.2.10\n")).unwrap();
    let modules = format!(
        r#"
modules:
  ftp_list:
    prober: ftp
    ftp: {{ auth: {{ username: {alice}, password_file: "@dir@/pw" }}, data: pasv, list: "/" }}
  ftp_epsv:
    prober: ftp
    ftp: {{ auth: {{ username: {alice}, password_file: "@dir@/pw" }}, data: epsv }}
  ftp_retr:
    prober: ftp
    ftp: {{ auth: {{ username: {alice}, password_file: "@dir@/pw" }}, retr: probe.dat }}
  ftp_wrong:
    prober: ftp
    ftp: {{ auth: {{ username: {alice}, password_file: "@dir@/wrong" }} }}
  ftps:
    prober: ftp
    ftp: {{ tls: starttls, tls_config: {{ insecure_skip_verify: true }}, auth: {{ username: {alice}, password_file: "@dir@/pw" }}, retr: probe.dat }}
  ftp_login_only:
    prober: ftp
    ftp: {{ auth: {{ username: {alice}, password_file: "@dir@/pw" }}, data: none }}
"#
    );
    let p = Prober::start(&modules, &[]).unwrap();
    Prober::secret(p.dir.path(), "pw", alice_pw).unwrap();
    Prober::secret(p.dir.path(), "wrong", "wrong-ftp-pw").unwrap();
    let t = ftpd.addr().unwrap().to_string();

    let r = p.probe("ftp_list", &t).unwrap();
    assert!(r.success(), "{}", p.debug("ftp_list", &t).unwrap());
    assert_eq!(
        r.phases(),
        [
            "resolve", "connect", "banner", "login", "pasv", "list", "transfer", "quit"
        ]
    );
    // The listing names the file.
    assert!(r.value("probe_ftp_transfer_bytes", &[]).unwrap() > 20.0);
    assert!(p.debug("ftp_list", &t).unwrap().contains("S: 226"));
    assert!(p.probe("ftp_epsv", &t).unwrap().success());
    let r = p.probe("ftp_retr", &t).unwrap();
    assert!(r.success(), "{}", p.debug("ftp_retr", &t).unwrap());
    assert_eq!(r.value("probe_ftp_transfer_bytes", &[]), Some(12_345.0));
    assert_eq!(
        r.phases(),
        [
            "resolve", "connect", "banner", "login", "pasv", "retr", "transfer", "quit"
        ]
    );
    let r = p.probe("ftp_wrong", &t).unwrap();
    assert_eq!(r.failure(), Some(("login".into(), "auth".into())));
    assert_eq!(r.value("probe_last_reply_code", &[]), Some(530.0));

    // FTPS: the data channel's TLS resumes the control connection's session.
    let r = p.probe("ftps", &t).unwrap();
    assert!(r.success(), "{}", p.debug("ftps", &t).unwrap());
    assert_eq!(r.value("probe_ftp_transfer_bytes", &[]), Some(12_345.0));
    assert_eq!(
        r.value("probe_tls_version_info", &[("version", "TLS 1.3")]),
        Some(1.0)
    );
    let tls_log = std::fs::read_to_string(ftpd.log_file("tls.log")).unwrap();
    assert!(!tls_log.contains("did not reuse SSL session"), "{tls_log}");

    // MasqueradeAddress: the PASV reply names another host; the probe says so and does
    // not connect there. Login alone still works.
    let m = masq.addr().unwrap().to_string();
    let r = p.probe("ftp_list", &m).unwrap();
    assert_eq!(
        r.failure(),
        Some(("pasv".into(), "pasv_address_mismatch".into()))
    );
    assert!(p.probe("ftp_login_only", &m).unwrap().success());
}

#[test]
fn http_probes_and_the_probe_contract() {
    let pki = Pki::new().unwrap();
    let targets = HttpTargets::start(&pki).unwrap();
    let (hp, sp) = (targets.http_port, targets.https_port);
    let modules = format!(
        r#"
modules:
  webmail:
    prober: http
    http: {{ fail_if_body_not_matches_regexp: ["Webmail login"] }}
  webmail_wrong_page:
    prober: http
    http: {{ fail_if_body_matches_regexp: ["Roundcube"] }}
  webmail_tls:
    prober: http
    http: {{ tls_config: {{ ca_file: "{ca}" }} }}
  no_redirects:
    prober: http
    http: {{ follow_redirects: false, valid_status_codes: [302] }}
  elsewhere_only:
    prober: smtp
    allowed_targets: ["192.0.2.0/24", "mx.example.net:25"]
  smtp_default:
    prober: smtp
"#,
        ca = pki.path("ca.crt").display()
    );
    let p = Prober::start(&modules, &[]).unwrap();
    let base = format!("http://127.0.0.1:{hp}");

    let r = p.probe("webmail", &format!("{base}/")).unwrap();
    assert!(
        r.success(),
        "{}",
        p.debug("webmail", &format!("{base}/")).unwrap()
    );
    assert_eq!(r.value("probe_http_status_code", &[]), Some(200.0));
    assert_eq!(r.value("probe_failed_due_to_regex", &[]), Some(0.0));
    for phase in ["connect", "processing", "transfer"] {
        assert!(
            r.value("probe_http_duration_seconds", &[("phase", phase)])
                .is_some(),
            "{phase}"
        );
    }
    // host:port target with the module's path; a name resolved through /etc/hosts.
    assert!(
        p.probe("webmail", &format!("localhost:{hp}"))
            .unwrap()
            .success()
    );
    let r = p.probe("webmail", &format!("{base}/redirect")).unwrap();
    assert!(r.success());
    assert_eq!(r.value("probe_http_redirects", &[]), Some(1.0));
    let r = p
        .probe("no_redirects", &format!("{base}/redirect"))
        .unwrap();
    assert!(r.success());
    assert_eq!(r.value("probe_http_status_code", &[]), Some(302.0));
    let r = p.probe("webmail_wrong_page", &format!("{base}/")).unwrap();
    assert_eq!(
        r.failure(),
        Some(("transfer".into(), "body_mismatch".into()))
    );
    assert_eq!(r.value("probe_failed_due_to_regex", &[]), Some(1.0));
    let r = p.probe("webmail", &format!("{base}/missing")).unwrap();
    assert_eq!(r.failure(), Some(("transfer".into(), "http_status".into())));
    assert_eq!(r.value("probe_http_status_code", &[]), Some(404.0));
    let r = p.probe("webmail", &format!("{base}/big")).unwrap();
    assert_eq!(r.failure(), Some(("transfer".into(), "too_large".into())));
    // A redirect to a host the module may not reach is refused, not followed.
    let r = p.probe("webmail", &format!("{base}/away")).unwrap();
    assert_eq!(r.failure(), Some(("resolve".into(), "not_allowed".into())));
    let r = p
        .probe("webmail_tls", &format!("https://127.0.0.1:{sp}/"))
        .unwrap();
    assert!(
        r.success(),
        "{}",
        p.debug("webmail_tls", &format!("https://127.0.0.1:{sp}/"))
            .unwrap()
    );
    assert_eq!(r.value("probe_http_ssl", &[]), Some(1.0));
    assert!(r.value("probe_ssl_earliest_cert_expiry", &[]).is_some());

    // The contract: 400 without a target or for an unknown module, 403 outside the allow
    // list (loopback only without one), each counted on /metrics.
    assert_eq!(p.probe_raw("webmail", "", "", 5.0).unwrap().status, 400);
    let r = p
        .probe_raw("nosuchmodule", "127.0.0.1:25", "", 5.0)
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Unknown module"));
    assert_eq!(
        p.probe_raw("smtp_default", "10.0.0.1:25", "", 5.0)
            .unwrap()
            .status,
        403
    );
    assert_eq!(
        p.probe_raw("smtp_default", "[::ffff:10.0.0.1]:25", "", 5.0)
            .unwrap()
            .status,
        403
    );
    assert_eq!(
        p.probe_raw("elsewhere_only", "127.0.0.1:25", "", 5.0)
            .unwrap()
            .status,
        403
    );
    let s = p.self_metrics().unwrap();
    assert_eq!(
        value(
            &s,
            "mailprobe_probes_refused_total",
            &[("module", "smtp_default")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &s,
            "mailprobe_probes_refused_total",
            &[("module", "elsewhere_only")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&s, "mailprobe_module_unknown_total", &[]), Some(1.0));
    // Probe results are not on /metrics (blackbox's rule for multi-target exporters).
    assert!(value(&s, "probe_success", &[]).is_none());

    // Reload: a new module appears; a broken file keeps the old ones and says why.
    let cfg = p.config_path();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}  added:\n    prober: http\n")).unwrap();
    let url = format!("{}/-/reload", p.exporter.url());
    assert_eq!(http::request("POST", &url, &[], b"").unwrap().status, 200);
    assert!(p.probe("added", &format!("{base}/")).unwrap().success());
    std::fs::write(
        &cfg,
        format!("{text}  broken:\n    prober: http\n    htp: {{}}\n"),
    )
    .unwrap();
    let r = http::request("POST", &url, &[], b"").unwrap();
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("unknown field `htp`") && r.text().contains("line"),
        "{}",
        r.text()
    );
    assert!(p.probe("added", &format!("{base}/")).unwrap().success());
    let s = p.self_metrics().unwrap();
    assert_eq!(
        value(&s, "mailprobe_config_last_reload_successful", &[]),
        Some(0.0)
    );
}
