use super::*;

fn parse(text: &str) -> anyhow::Result<Config> {
    Config::parse(text, Path::new("/etc/mailprobe"))
}

fn err(text: &str) -> String {
    format!("{:#}", parse(text).unwrap_err())
}

const ISSUE_EXAMPLE: &str = r#"
modules:
  smtp_starttls:
    prober: smtp            # smtp | lmtp | imap | pop3 | ftp | http | delivery
    timeout: 10s
    allowed_targets: ["127.0.0.0/8", "mx.example.net:25"]   # CIDRs or host[:port]
    smtp:
      tls: starttls         # starttls | implicit | none
      tls_required: true
      ehlo: probe.example.net
      auth: { mechanism: plain, username: probe@example.net, password_file: /run/secrets/probe }
      mail_from: probe@example.net
      rcpt_to: [postmaster@example.net]
      data: false           # stop after RCPT unless true
      expect_rcpt_code: 250 # e.g. 554 to prove that relaying is denied
  imap_login:
    prober: imap
    imap: { tls: none, auth: { username: u, password_env: IMAP_PW }, mailbox: INBOX }
  pop3_login:
    prober: pop3
    pop3: { tls: none, auth: { username: u, password_file: /run/secrets/pop } }
  ftp_pasv:
    prober: ftp
    ftp: { tls: none, auth: { username: u, password_file: F }, data: pasv, list: "/" }
"#;

#[test]
fn the_documented_shape_loads() {
    let c = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(c.modules.len(), 4);
    let m = &c.modules["smtp_starttls"];
    assert_eq!(m.prober, ProberKind::Smtp);
    assert_eq!(m.timeout, Duration::from_secs(10));
    assert_eq!(m.smtp.tls, TlsMode::Starttls);
    assert_eq!(m.smtp.expect_rcpt_code, Some(250));
    assert_eq!(m.smtp.rcpt_to, vec!["postmaster@example.net"]);
    assert!(!m.smtp.data);
    let auth = m.smtp.auth.as_ref().unwrap();
    assert_eq!(auth.mechanism, Some(Mechanism::Plain));
    assert_eq!(
        auth.password,
        sections::PasswordSource::File("/run/secrets/probe".into())
    );
    let allow = m.allowed_targets.as_ref().unwrap();
    assert!(allow.allows_addr("127.0.0.9".parse().unwrap(), 25));
    assert!(allow.allows_name("mx.example.net", 25));
    let ftp = &c.modules["ftp_pasv"];
    // A relative password file is relative to the module file.
    assert_eq!(
        ftp.ftp.auth.as_ref().unwrap().password,
        sections::PasswordSource::File("/etc/mailprobe/F".into())
    );
    assert_eq!(ftp.ftp.data, FtpData::Pasv);
    assert_eq!(
        c.modules["imap_login"].imap.auth.as_ref().unwrap().password,
        sections::PasswordSource::Env("IMAP_PW".into())
    );
}

#[test]
fn defaults_live_in_one_place() {
    let c = parse("modules:\n  m:\n    prober: smtp\n").unwrap();
    let m = &c.modules["m"];
    assert_eq!(m.timeout, defaults::TIMEOUT);
    assert_eq!(m.preferred_ip_protocol, defaults::PREFERRED_IP_PROTOCOL);
    assert_eq!(m.ip_protocol_fallback, defaults::IP_PROTOCOL_FALLBACK);
    assert!(m.allowed_targets.is_none());
    assert_eq!(m.smtp.tls, TlsMode::None);
    assert_eq!(m.smtp.tls_required, defaults::TLS_REQUIRED);
    assert!(parse("").unwrap().modules.is_empty());
}

#[test]
fn unknown_keys_name_the_line_and_key() {
    let e = err("modules:\n  m:\n    prober: smtp\n    smtp:\n      tsl: starttls\n");
    assert!(
        e.contains("unknown field `tsl`") && e.contains("line 5"),
        "{e}"
    );
    let e = err("modules:\n  m:\n    prober: smtp\n    timeuot: 5s\n");
    assert!(
        e.contains("unknown field `timeuot`") && e.contains("line 4"),
        "{e}"
    );
    let e = err("moduels: {}\n");
    assert!(e.contains("unknown field `moduels`"), "{e}");
}

#[test]
fn secrets_only_from_files_or_environment() {
    let e = err(
        "modules:\n  m:\n    prober: imap\n    imap:\n      auth: { username: u, password: hunter2 }\n",
    );
    assert!(
        e.contains("unknown field `password`") && e.contains("line 5"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    let e = err("modules:\n  m:\n    prober: imap\n    imap:\n      auth: { username: u }\n");
    assert!(
        e.contains("password_file or password_env") && e.contains("line 5"),
        "{e}"
    );
    let e = err(
        "modules:\n  m:\n    prober: imap\n    imap:\n      auth: { username: u, password_file: a, password_env: B }\n",
    );
    assert!(e.contains("not both"), "{e}");
    let e = err(
        "modules:\n  m:\n    prober: pop3\n    pop3:\n      auth: { username: \"u\\r\\nDELE 1\", password_env: B }\n",
    );
    assert!(e.contains("control character"), "{e}");
}

#[test]
fn cross_field_mistakes() {
    let e = err("modules:\n  m:\n    prober: imap\n    smtp: {}\n");
    assert!(e.contains("module m") && e.contains("smtp: section"), "{e}");
    let e = err("modules:\n  m:\n    prober: smtp\n    smtp: { data: true }\n");
    assert!(e.contains("needs rcpt_to"), "{e}");
    let e = err("modules:\n  m:\n    prober: smtp\n    smtp: { expect_rcpt_code: 99 }\n");
    assert!(e.contains("not a reply code"), "{e}");
    let e = err(
        "modules:\n  m:\n    prober: smtp\n    smtp: { rcpt_to: [\"a@b>\\r\\nRCPT TO:<c@d\"] }\n",
    );
    assert!(e.contains("line break"), "{e}");
    let e = err("modules:\n  m:\n    prober: smtp\n    allowed_targets: [\"not a target!\"]\n");
    assert!(e.contains("allowed_targets") && e.contains("line 4"), "{e}");
    let e = err(
        "modules:\n  m:\n    prober: http\n    http: { fail_if_body_matches_regexp: [\"(\"] }\n",
    );
    assert!(
        e.contains("invalid regular expression") && e.contains("line 4"),
        "{e}"
    );
    let e = err("modules:\n  m:\n    prober: smtp\n    timeout: 10 parsecs\n");
    assert!(
        e.contains("invalid duration") && e.contains("line 4"),
        "{e}"
    );
    let e = err("modules:\n  m: {prober: smtp}\n  m: {prober: imap}\n");
    assert!(e.contains("duplicate"), "{e}");
    let e = err("modules:\n  m:\n    prober: gopher\n");
    assert!(e.contains("unknown variant `gopher`"), "{e}");
}

const DELIVERY: &str = r#"
modules:
  send:
    prober: smtp
    smtp: { mail_from: probe@example.net, rcpt_to: [probe@example.net] }
  inbox:
    prober: imap
    imap: { auth: { username: probe, password_env: PW } }
  e2e:
    prober: delivery
    timeout: 30s
    delivery:
      send: send
      receive: { imap: { module: inbox, target: "127.0.0.1:143" } }
      poll_interval: 500ms
routes:
  - { name: local, module: e2e, target: "127.0.0.1:25", interval: 1m, lost_after: 5m }
"#;

#[test]
fn delivery_modules_and_routes() {
    let c = parse(DELIVERY).unwrap();
    let plan = c.modules["e2e"].plan.as_ref().unwrap();
    assert_eq!(plan.send.0, "send");
    assert_eq!(plan.poll_interval, Duration::from_millis(500));
    assert!(matches!(&plan.receive, PlanReceive::Imap(_, t) if t.port == 143));
    assert_eq!(c.routes[0].interval, Duration::from_secs(60));
    assert_eq!(c.routes[0].lost_after, Duration::from_secs(300));
    let e = err(&DELIVERY.replace("send: send", "send: inbox"));
    assert!(e.contains("sending needs smtp or lmtp"), "{e}");
    let e = err(&DELIVERY.replace("module: e2e", "module: send"));
    assert!(e.contains("needs a delivery module"), "{e}");
    let e = err(&DELIVERY.replace("module: inbox", "module: nothere"));
    assert!(e.contains("no module \"nothere\""), "{e}");
    let e = err(&format!(
        "{DELIVERY}  - {{ name: local, module: e2e, target: x }}\n"
    ));
    assert!(e.contains("given twice"), "{e}");
    let e = err(&DELIVERY.replace(
        "    imap: { auth: { username: probe, password_env: PW } }",
        "    imap: {}",
    ));
    assert!(e.contains("has no auth"), "{e}");
}
