use super::*;

fn parse(text: &str) -> Vec<MetricDef> {
    parse_str(text, Path::new("test.conf")).unwrap_or_else(|e| panic!("{e}"))
}

const V23: &str = r#"
# Dovecot 2.3
protocols = imap lmtp
service stats {
  inet_listener stats-reader {
    port = 9901
  }
}
metric auth_success {
  filter = event=auth_request_finished AND success=yes   # logins that worked
}
metric imap_command {
  filter = event=imap_command_finished
  fields = bytes_in bytes_out
  group_by = cmd_name tagged_reply_state
  description = "IMAP commands # not a comment"
}
metric imap_command_latency {
  filter = event=imap_command_finished
  group_by = duration:exponential:1:6:10
}
metric sizes {
  filter = event=mail_delivery_finished
  group_by = size:linear:0:1000:250
}
"#;

#[test]
fn dovecot_2_3_syntax() {
    let m = parse(V23);
    let names: Vec<&str> = m.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "auth_success",
            "imap_command",
            "imap_command_latency",
            "sizes"
        ]
    );
    assert_eq!(m[0].filter, "event=auth_request_finished AND success=yes");
    assert_eq!(m[0].origin.1, 9);
    assert_eq!(m[1].fields, ["bytes_in", "bytes_out"]);
    assert_eq!(m[1].description, "IMAP commands # not a comment");
    let fields: Vec<&str> = m[1].group_by.iter().map(|g| g.field.as_str()).collect();
    assert_eq!(fields, ["cmd_name", "tagged_reply_state"]);
    assert!(
        m[1].group_by
            .iter()
            .all(|g| g.method == GroupMethod::Discrete)
    );
    assert_eq!(
        m[2].group_by[0].method,
        GroupMethod::Exponential {
            min: 1,
            max: 6,
            base: 10
        }
    );
    assert_eq!(
        m[2].group_by[0].method.bounds(),
        [10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
    );
    assert_eq!(
        m[3].group_by[0].method.bounds(),
        [0.0, 250.0, 500.0, 750.0, 1000.0]
    );
}

#[test]
fn dovecot_2_4_syntax() {
    let m = parse(
        "dovecot_config_version = 2.4.0
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes net_out_bytes
  group_by cmd_name {
  }
  group_by duration {
    method exponential {
      min_magnitude = 1
      max_magnitude = 5
      base = 10
    }
  }
}
metric pop3 {
  metric_filter = event=pop3_command_finished
  group_by user {
    method discrete {
      modifier = %{value | domain | lower}
    }
  }
}
",
    );
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].fields, ["net_in_bytes", "net_out_bytes"]);
    assert_eq!(m[0].group_by.len(), 2);
    assert_eq!(m[0].group_by[0].method, GroupMethod::Discrete);
    assert_eq!(
        m[0].group_by[1].method,
        GroupMethod::Exponential {
            min: 1,
            max: 5,
            base: 10
        }
    );
    assert_eq!(m[1].filter, "event=pop3_command_finished");
    assert_eq!(m[1].group_by[0].field, "user");
}

#[test]
fn errors_name_the_line() {
    let e = |t: &str| {
        parse_str(t, Path::new("x.conf"))
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(
        e("metric a {\n  group_by = d:exponential:1:6:7\n}\n").as_deref(),
        Some("x.conf:2: exponential base must be 2 or 10, not 7")
    );
    assert_eq!(
        e("metric a {\n filter = x\n").as_deref(),
        Some("x.conf:1: section not closed")
    );
    assert_eq!(
        e("}\n").as_deref(),
        Some("x.conf:1: `}` without an open section")
    );
    assert_eq!(
        e("metric a {\n  group_by d {\n    method cubic {\n    }\n  }\n}\n").as_deref(),
        Some("x.conf:3: unknown group_by method \"cubic\"")
    );
    assert_eq!(
        e("metric a {\n  group_by = d:linear:0:10:0\n}\n").as_deref(),
        Some("x.conf:2: linear 0:10:0 is not a usable range")
    );
    assert_eq!(
        e("just words\n").as_deref(),
        Some("x.conf:1: expected `key = value`, `name {` or `}`")
    );
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn includes_are_followed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::create_dir(d.join("conf.d")).unwrap_or_else(|e| panic!("{e}"));
    write(
        &d.join("dovecot.conf"),
        "!include conf.d/*.conf\n!include_try missing.conf\nmetric last {\n filter = event=x\n}\n",
    );
    write(
        &d.join("conf.d/20-b.conf"),
        "metric b {\n filter = event=b\n}\n",
    );
    write(
        &d.join("conf.d/10-a.conf"),
        "metric a {\n filter = event=a\n}\n",
    );
    write(&d.join("conf.d/ignored.txt"), "metric no {\n}\n");
    let m = load(&d.join("dovecot.conf")).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = m.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "last"]);
    assert!(m[0].origin.0.ends_with("conf.d/10-a.conf"));

    write(&d.join("loop.conf"), "!include loop.conf\n");
    let e = load(&d.join("loop.conf")).err().map(|e| e.reason);
    assert_eq!(e.as_deref(), Some("includes nested too deep (a loop?)"));
    let e = load(&d.join("conf.d/nothere.conf")).err().map(|e| e.line);
    assert_eq!(e, Some(0));
}

proptest::proptest! {
    /// Any text gives definitions or an error, never a panic.
    #[test]
    fn never_panics(s in "[a-z_ ={}#\"\\n:0-9!]{0,300}") {
        let _ = parse_str(&s, Path::new("p.conf"));
    }
}
