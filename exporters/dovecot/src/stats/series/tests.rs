use super::*;
use crate::config::parse_str;
use crate::stats::dump::parse_dump;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

const CONFIG: &str = "
metric imap_command {
  filter = event=imap_command_finished
  fields = bytes_in
  group_by = cmd_name tagged_reply_state
}
metric imap_command_latency {
  filter = event=imap_command_finished
  group_by = duration:exponential:1:3:10
}
metric auth_success {
  filter = event=auth_request_finished AND success=yes
}
";

fn stats() -> Vec<Stat> {
    vec![Stat::Count, Stat::Sum]
}

fn run(dump: &str) -> (MetricSet, Vec<MapError>, String) {
    let defs = parse_str(CONFIG, std::path::Path::new("t.conf")).unwrap_or_default();
    let (rows, errors) = parse_dump(dump, &stats());
    assert!(errors.is_empty(), "{errors:?}");
    let mut set = MetricSet::new();
    let errs = to_metrics(&defs, &rows, &stats(), &mut set);
    let mut r = Registry::default();
    r.register_collector(Box::new(set.clone().into_collector()));
    let mut text = String::new();
    encode(&mut text, &r).unwrap_or_default();
    (set, errs, text)
}

const DUMP: &str = "imap_command\t10\t5000\tbytes_in\t10\t300
imap_command_SELECT\t6\t3000\tbytes_in\t6\t120
imap_command_SELECT_OK\t3\t1000\tbytes_in\t3\t60
imap_command_SELECT_NO\t2\t500\tbytes_in\t2\t40
imap_command_LOGOUT\t4\t2000\tbytes_in\t4\t180
imap_command_LOGOUT_OK\t4\t2000\tbytes_in\t4\t180
imap_command_latency\t5\t1234
imap_command_latency_duration_ninf_10\t1\t9
imap_command_latency_duration_11_100\t3\t125
imap_command_latency_duration_1001_inf\t1\t1100
auth_success\t0\t0
auth_other_thing\t2\t40
bad-name\t1\t1
";

#[test]
fn labels_rebuilt_and_each_event_counted_once() {
    let (set, errs, text) = run(DUMP);
    let v = |labels: &[(&str, &str)]| set.value("dovecot_imap_command", labels);
    let both = |c: &'static str, s: &'static str| [("cmd_name", c), ("tagged_reply_state", s)];
    assert_eq!(v(&both("SELECT", "OK")), Some(3.0));
    assert_eq!(v(&both("SELECT", "NO")), Some(2.0));
    // One SELECT had no reply state: it stays at the cmd_name level.
    assert_eq!(v(&both("SELECT", "")), Some(1.0));
    assert_eq!(v(&both("LOGOUT", "OK")), Some(4.0));
    assert_eq!(v(&both("", "")), Some(0.0));
    // SELECT, SELECT/OK, SELECT/NO, LOGOUT/OK and the root: sum() is the total, 10.
    assert_eq!(set.sample_count("dovecot_imap_command"), 5, "{text}");
    assert!(
        text.contains(
            "dovecot_imap_command_total{cmd_name=\"SELECT\",tagged_reply_state=\"\"} 1.0\n"
        ),
        "{text}"
    );
    assert_eq!(
        set.value("dovecot_imap_command_duration_seconds", &both("SELECT", "")),
        Some(0.0015)
    );
    assert_eq!(
        set.value("dovecot_imap_command_bytes_in", &both("SELECT", "")),
        Some(20.0)
    );
    assert_eq!(
        set.value("dovecot_imap_command_bytes_in", &both("LOGOUT", "OK")),
        Some(180.0)
    );
    // The latency metric is its own, not a cmd_name "latency" of imap_command.
    assert!(!text.contains("cmd_name=\"latency"), "{text}");
    for want in [
        "dovecot_imap_command_latency_bucket{le=\"0.00001\"} 1\n",
        "dovecot_imap_command_latency_bucket{le=\"0.0001\"} 4\n",
        "dovecot_imap_command_latency_bucket{le=\"0.001\"} 4\n",
        "dovecot_imap_command_latency_bucket{le=\"+Inf\"} 5\n",
        "dovecot_imap_command_latency_sum 0.001234\n",
        "dovecot_imap_command_latency_count 5\n",
        "dovecot_auth_success_total 0.0\n",
        "dovecot_auth_other_thing_total 2.0\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert_eq!(
        errs,
        [MapError {
            name: "bad-name".into(),
            reason: "not a valid metric name"
        }]
    );
}

#[test]
fn underscore_in_a_deepest_value_is_a_sibling() {
    let defs = parse_str(
        "metric m {\n filter = event=x\n group_by = v\n}\n",
        std::path::Path::new("t.conf"),
    )
    .unwrap_or_default();
    let (rows, _) = parse_dump("m\t5\t0\nm_X\t2\t0\nm_X_Y\t3\t0\n", &stats());
    let mut set = MetricSet::new();
    let errs = to_metrics(&defs, &rows, &stats(), &mut set);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(set.value("dovecot_m", &[("v", "X")]), Some(2.0));
    assert_eq!(set.value("dovecot_m", &[("v", "X_Y")]), Some(3.0));
    assert_eq!(set.value("dovecot_m", &[("v", "")]), Some(0.0));
}
