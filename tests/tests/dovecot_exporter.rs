//! `dovecot-exporter` against a real Dovecot 2.3: after known traffic (logins that succeed
//! and fail, IMAP sessions with SELECTs answering OK and NO), what it serves equals
//! `doveadm stats dump` on the same daemon, flat and with labels rebuilt from the config;
//! `doveadm stats dump` output in every formatter, read by `print` or run as the
//! collector's command, gives the same series; a `doveadm reload` (the stats process
//! restarts) is counted as a reset, and a stopped daemon is `dovecot_up 0`. The recommended
//! metrics config loads in Dovecot and maps completely, and the native /metrics of the same
//! daemon is shown invalid where ours is not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use e2e_tests::dovecot::{STATS_METRICS, TEST_USERS, stats_dump_table};
use e2e_tests::expo::{ExpoSample, samples, series_map, sum, value};
use e2e_tests::exporter::{ACCEPT_TEXT, run_binary};
use e2e_tests::{Dovecot, DovecotOptions, Exporter, wait_for};

const BIN: &str = "dovecot-exporter";

fn samples_of(e: &Exporter) -> Vec<ExpoSample> {
    e.samples().expect("scrape")
}

fn start_dovecot() -> Dovecot {
    Dovecot::start(
        DovecotOptions::new()
            .imap()
            .port("stats")
            .config(STATS_METRICS),
    )
    .expect("start dovecot")
}

/// 2 + 2 successful logins (doveadm auth test, IMAP LOGIN), 1 failed; 2 SELECTs answering
/// OK and 2 answering NO.
fn traffic(dovecot: &Dovecot) {
    for (user, password) in TEST_USERS {
        assert!(dovecot.auth_test(user, password).unwrap());
    }
    assert!(!dovecot.auth_test(TEST_USERS[0].0, "wrong").unwrap());
    for (user, password) in TEST_USERS {
        dovecot.imap_session(user, password).unwrap();
    }
}

/// The series that come from Dovecot's metrics, not the exporter's own.
fn stats_series(body: &str) -> BTreeMap<String, f64> {
    series_map(body)
        .into_iter()
        .filter(|(k, _)| k.starts_with("dovecot_auth_") || k.starts_with("dovecot_imap_"))
        .collect()
}

#[test]
fn flat_and_labelled_series_equal_doveadm() {
    let dovecot = start_dovecot();
    traffic(&dovecot);
    let dump = dovecot.settled_stats_dump().unwrap();
    let want = stats_dump_table(&dump);
    let socket = dovecot.instance().run_dir().join("stats-reader");
    let flat = Exporter::start(
        BIN,
        &[&format!(
            "--dovecot.stats-reader.address={}",
            socket.display()
        )],
    )
    .unwrap();
    let labelled = Exporter::start(
        BIN,
        &[
            &dovecot.stats_reader_flag().unwrap(),
            &dovecot.config_flag(),
        ],
    )
    .unwrap();

    // Flat: every row of doveadm's dump under its own name, counts and sums exact.
    let f = samples_of(&flat);
    assert_eq!(value(&f, "dovecot_up", &[]), Some(1.0));
    assert_eq!(value(&f, "dovecot_stats_labelled", &[]), Some(0.0));
    let rows: std::collections::BTreeSet<&str> = want.keys().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        value(&f, "dovecot_stats_rows", &[]),
        Some(rows.len() as f64)
    );
    for ((metric, field), (count, total)) in &want {
        if field == "duration" {
            let c = value(&f, &format!("dovecot_{metric}_total"), &[]);
            assert_eq!(c, Some(*count), "{metric}");
            let d = value(&f, &format!("dovecot_{metric}_duration_seconds_total"), &[]);
            assert_eq!(d, Some(total / 1e6), "{metric}");
        } else {
            let v = value(&f, &format!("dovecot_{metric}_{field}_total"), &[]);
            assert_eq!(v, Some(*total), "{metric} {field}");
        }
    }

    // Labelled: the traffic, each event once, and the family sums are doveadm's roots.
    let l = samples_of(&labelled);
    let root = |m: &str| want[&(m.to_string(), "duration".to_string())];
    assert_eq!(value(&l, "dovecot_up", &[]), Some(1.0));
    assert_eq!(value(&l, "dovecot_stats_labelled", &[]), Some(1.0));
    assert_eq!(
        value(&l, "dovecot_stats_metric_definitions", &[]),
        Some(4.0)
    );
    assert_eq!(value(&l, "dovecot_stats_unmapped_rows", &[]), Some(0.0));
    assert_eq!(value(&l, "dovecot_auth_success_total", &[]), Some(4.0));
    assert_eq!(value(&l, "dovecot_auth_failures_total", &[]), Some(1.0));
    let cmd = |c: &str, s: &str| {
        value(
            &l,
            "dovecot_imap_command_total",
            &[("cmd_name", c), ("tagged_reply_state", s)],
        )
    };
    assert_eq!(cmd("SELECT", "OK"), Some(2.0));
    assert_eq!(cmd("SELECT", "NO"), Some(2.0));
    assert_eq!(cmd("LOGOUT", "OK"), Some(2.0));
    assert_eq!(
        sum(&l, "dovecot_imap_command_total", &[]),
        root("imap_command").0
    );
    assert_eq!(
        sum(&l, "dovecot_imap_command_bytes_in_total", &[]),
        want[&("imap_command".to_string(), "bytes_in".to_string())].1
    );
    let latency = root("auth_latency");
    assert_eq!(latency.0, 5.0);
    assert_eq!(
        value(&l, "dovecot_auth_latency_count", &[]),
        Some(latency.0)
    );
    assert_eq!(
        value(&l, "dovecot_auth_latency_bucket", &[("le", "+Inf")]),
        Some(latency.0)
    );
    let sum_s = value(&l, "dovecot_auth_latency_sum", &[]).unwrap();
    assert!((sum_s - latency.1 / 1e6).abs() < 1e-9, "{sum_s}");
    assert_eq!(
        value(
            &l,
            "dovecot_scrape_collector_success",
            &[("collector", "stats")]
        ),
        Some(1.0)
    );
}

#[test]
fn doveadm_output_in_every_formatter_gives_the_readers_series() {
    let dovecot = start_dovecot();
    traffic(&dovecot);
    dovecot.settled_stats_dump().unwrap();
    let labelled = Exporter::start(
        BIN,
        &[
            &dovecot.stats_reader_flag().unwrap(),
            &dovecot.config_flag(),
        ],
    )
    .unwrap();
    let want = stats_series(&labelled.scrape(ACCEPT_TEXT).unwrap().text());
    assert!(want.len() > 10, "{want:?}");
    let conf = dovecot.config_path();
    for formatter in ["tab", "table", "flow", "pager", "json"] {
        let out = dovecot
            .doveadm(&["-f", formatter, "stats", "dump"])
            .unwrap();
        let printed = run_binary(BIN, &["print", &dovecot.config_flag()], out.as_bytes()).unwrap();
        assert!(
            printed.status.success(),
            "{formatter}: {}",
            String::from_utf8_lossy(&printed.stderr)
        );
        let stderr = String::from_utf8_lossy(&printed.stderr);
        assert!(stderr.is_empty(), "{formatter}: {stderr}");
        let got = stats_series(&String::from_utf8_lossy(&printed.stdout));
        assert_eq!(got, want, "{formatter}:\n{out}");
    }
    // The same as the collector's command source.
    let command = format!(
        "--collector.stats.command=doveadm -c {} -f json stats dump",
        conf.display()
    );
    let by_command = Exporter::start(
        BIN,
        &[
            "--collector.stats.source=command",
            &command,
            &dovecot.config_flag(),
        ],
    )
    .unwrap();
    let got = stats_series(&by_command.scrape(ACCEPT_TEXT).unwrap().text());
    assert_eq!(got, want);
}

#[test]
fn a_reload_is_a_reset_and_a_stopped_daemon_is_down() {
    let mut dovecot = start_dovecot();
    traffic(&dovecot);
    dovecot.settled_stats_dump().unwrap();
    let e = Exporter::start(
        BIN,
        &[
            &dovecot.stats_reader_flag().unwrap(),
            &dovecot.config_flag(),
        ],
    )
    .unwrap();
    let before = samples_of(&e);
    assert_eq!(value(&before, "dovecot_auth_success_total", &[]), Some(4.0));
    assert_eq!(value(&before, "dovecot_stats_resets_total", &[]), Some(0.0));
    // doveadm reload restarts the stats process: every count starts from zero.
    dovecot.doveadm(&["reload"]).unwrap();
    wait_for("stats restarted", Duration::from_secs(20), || {
        dovecot.doveadm(&["stats", "dump"]).is_ok_and(|d| {
            stats_dump_table(&d)[&("auth_success".into(), "duration".into())].0 == 0.0
        })
    });
    let after = samples_of(&e);
    assert_eq!(value(&after, "dovecot_up", &[]), Some(1.0));
    assert_eq!(value(&after, "dovecot_auth_success_total", &[]), Some(0.0));
    assert_eq!(value(&after, "dovecot_stats_resets_total", &[]), Some(1.0));
    // Growth after the reset is no second reset.
    assert!(dovecot.auth_test(TEST_USERS[0].0, TEST_USERS[0].1).unwrap());
    wait_for("auth counted", Duration::from_secs(10), || {
        value(&samples_of(&e), "dovecot_auth_success_total", &[]) == Some(1.0)
    });
    assert_eq!(
        value(&samples_of(&e), "dovecot_stats_resets_total", &[]),
        Some(1.0)
    );

    dovecot.stop().unwrap();
    let down = samples_of(&e);
    assert_eq!(value(&down, "dovecot_up", &[]), Some(0.0));
    assert_eq!(
        value(
            &down,
            "dovecot_stats_read_errors_total",
            &[("reason", "io")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &down,
            "dovecot_scrape_collector_success",
            &[("collector", "stats")]
        ),
        Some(0.0)
    );
    // Its series are gone, not frozen at their last values.
    assert_eq!(value(&down, "dovecot_auth_success_total", &[]), None);
}

#[test]
fn the_recommended_metrics_conf_loads_in_dovecot_and_maps_completely() {
    let conf = e2e_tests::exporter::workspace_root().join("exporters/dovecot/conf/metrics.conf");
    let dovecot = Dovecot::start(DovecotOptions::new().python_clients().port("stats").config(
        &format!(
            "service stats {{
  inet_listener stats-reader {{
    address = 127.0.0.1
    port = @port:stats@
  }}
}}
!include {}
",
            conf.display()
        ),
    ))
    .expect("start dovecot with the recommended metrics");
    dovecot.python_traffic().unwrap();
    let want = stats_dump_table(&dovecot.settled_stats_dump().unwrap());
    let e = Exporter::start(
        BIN,
        &[
            &dovecot.stats_reader_flag().unwrap(),
            &dovecot.config_flag(),
        ],
    )
    .unwrap();
    let s = samples_of(&e);
    assert_eq!(
        value(&s, "dovecot_stats_metric_definitions", &[]),
        Some(8.0)
    );
    assert_eq!(value(&s, "dovecot_stats_unmapped_rows", &[]), Some(0.0));
    let root = |m: &str| want[&(m.to_string(), "duration".to_string())].0;
    // Every metric saw traffic, and each family adds up to its root count.
    for (metric, family) in [
        ("auth_success", "dovecot_auth_success_total"),
        ("auth_failures", "dovecot_auth_failures_total"),
        ("auth_requests", "dovecot_auth_requests_total"),
        ("imap_command", "dovecot_imap_command_total"),
        ("imap_command_latency", "dovecot_imap_command_latency_count"),
        ("smtp_command", "dovecot_smtp_command_total"),
        ("mail_delivery", "dovecot_mail_delivery_count"),
        ("mail_user_session", "dovecot_mail_user_session_total"),
    ] {
        assert!(root(metric) > 0.0, "{metric}: {want:?}");
        assert_eq!(sum(&s, family, &[]), root(metric), "{metric}");
    }
    assert_eq!(
        root("auth_requests"),
        root("auth_success") + root("auth_failures")
    );
    let v = |name: &str, l: &[(&str, &str)]| value(&s, name, l);
    assert_eq!(
        v(
            "dovecot_smtp_command_total",
            &[("cmd_name", "RCPT"), ("status_code", "550")]
        ),
        Some(1.0)
    );
    // The good session selects, appends, selects again and fetches.
    for (cmd, n) in [("SELECT", 2.0), ("APPEND", 1.0), ("FETCH", 1.0)] {
        assert_eq!(
            v(
                "dovecot_imap_command_total",
                &[("cmd_name", cmd), ("tagged_reply_state", "OK")]
            ),
            Some(n),
            "{cmd}"
        );
    }
    assert_eq!(
        v(
            "dovecot_auth_requests_total",
            &[("service", "pop3"), ("success", "yes")]
        ),
        Some(1.0)
    );
    // Two deliveries saved and one refused for quota all end a delivery.
    assert_eq!(root("mail_delivery"), 3.0);
}

#[test]
fn ours_is_valid_where_the_native_endpoint_of_2_3_19_is_not() {
    let conf = e2e_tests::exporter::workspace_root().join("exporters/dovecot/conf/metrics.conf");
    let dovecot = Dovecot::start(
        DovecotOptions::new()
            .python_clients()
            .port("stats")
            .port("http")
            .config(&format!(
                "service stats {{
  inet_listener stats-reader {{
    address = 127.0.0.1
    port = @port:stats@
  }}
  inet_listener http {{
    address = 127.0.0.1
    port = @port:http@
  }}
}}
!include {}
",
                conf.display()
            )),
    )
    .expect("start dovecot");
    dovecot.python_traffic().unwrap();
    let want = stats_dump_table(&dovecot.settled_stats_dump().unwrap());
    let native = e2e_tests::http::get(
        &format!("http://127.0.0.1:{}/metrics", dovecot.port("http").unwrap()),
        &[],
    )
    .unwrap()
    .text();
    let e = Exporter::start(
        BIN,
        &[
            &dovecot.stats_reader_flag().unwrap(),
            &dovecot.config_flag(),
        ],
    )
    .unwrap();
    let ours = e
        .scrape(e2e_tests::exporter::ACCEPT_OPENMETRICS)
        .unwrap()
        .text();
    // Dovecot 2.3.19 writes the previous histogram's buckets as label-less garbage into the
    // next group_by metric: a strict parser rejects the whole scrape.
    assert!(
        native.contains("dovecot_smtp_command_total{\"duration_"),
        "{native}"
    );
    let err = e2e_tests::tools::validate_openmetrics(&native).unwrap_err();
    assert!(
        format!("{err:#}").contains("OpenMetrics validation failed"),
        "{err:#}"
    );
    let families =
        e2e_tests::tools::validate_openmetrics(&ours).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        families.iter().any(|f| f == "dovecot_smtp_command"),
        "{families:?}"
    );
    // Every level of a group_by is a series of one family there, so sum() counts an event
    // once per level; here each event is counted once.
    let root = want[&("imap_command".to_string(), "duration".to_string())].0;
    let native_sum = sum(&samples(&native), "dovecot_imap_command_total", &[]);
    let our_sum = sum(&samples(&ours), "dovecot_imap_command_total", &[]);
    assert_eq!(our_sum, root);
    assert!(native_sum > root, "native {native_sum} vs {root}");
    // 2.3.19 leaves the fields out; they are here.
    assert!(!native.contains("bytes_in"));
    assert_eq!(
        sum(&samples(&ours), "dovecot_imap_command_bytes_in_total", &[]),
        want[&("imap_command".to_string(), "bytes_in".to_string())].1
    );
}
