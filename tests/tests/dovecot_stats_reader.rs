//! The Dovecot exporter's stats-reader client against a real Dovecot 2.3: known traffic
//! (logins that succeed and fail through `doveadm auth test`, an IMAP session with SELECTs
//! that answer OK and NO), then one DUMP over the unix socket and one over TCP, each
//! compared value by value with `doveadm stats dump` on the same daemon.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use dovecot_exporter::config::{self, GroupMethod, MetricDef};
use dovecot_exporter::stats::{Dump, Stat, StatValues, StatsReader};
use dovecot_exporter::wire::Address;
use e2e_tests::dovecot::{STATS_METRICS, TEST_USERS};
use e2e_tests::{Dovecot, DovecotOptions};

/// (metric, field) → (count, sum, min, max).
type Table = BTreeMap<(String, String), [u64; 4]>;

fn ours(d: &Dump, stats: &[Stat]) -> Table {
    let mut t = Table::new();
    let get = |v: &StatValues, s: &Stat| v.get(stats, s).map(|x| x as u64).expect("value");
    let four = |v| {
        [
            get(v, &Stat::Count),
            get(v, &Stat::Sum),
            get(v, &Stat::Min),
            get(v, &Stat::Max),
        ]
    };
    for row in &d.rows {
        t.insert((row.name.clone(), "duration".into()), four(&row.duration));
        for (field, v) in &row.fields {
            t.insert((row.name.clone(), field.clone()), four(v));
        }
    }
    t
}

/// `doveadm stats dump` (tab formatter): a header, then `metric field count sum min max …`.
fn table(out: &str) -> Table {
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (c, s, mi, ma) = (col("count"), col("sum"), col("min"), col("max"));
    let mut t = Table::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split('\t').collect();
        let n = |i: usize| f[i].parse::<u64>().expect(l);
        t.insert(
            (f[0].to_string(), f[1].to_string()),
            [n(c), n(s), n(mi), n(ma)],
        );
    }
    t
}

/// Dovecot with IMAP, the stats-reader on TCP and [`STATS_METRICS`].
fn start() -> Dovecot {
    Dovecot::start(
        DovecotOptions::new()
            .imap()
            .port("stats")
            .config(STATS_METRICS),
    )
    .expect("start dovecot")
}

#[test]
fn dump_over_unix_and_tcp_equals_doveadm() {
    let dovecot = start();
    let (user, password) = TEST_USERS[0];
    assert!(dovecot.auth_test(user, password).unwrap());
    assert!(dovecot.auth_test(TEST_USERS[1].0, TEST_USERS[1].1).unwrap());
    assert!(!dovecot.auth_test(user, "wrong").unwrap());
    dovecot.imap_session(user, password).unwrap();
    dovecot
        .imap_session(TEST_USERS[1].0, TEST_USERS[1].1)
        .unwrap();

    let stats = vec![Stat::Count, Stat::Sum, Stat::Min, Stat::Max, Stat::Avg];
    let unix = Address::Unix(dovecot.instance().run_dir().join("stats-reader"));
    let tcp: Address = format!("127.0.0.1:{}", dovecot.port("stats").unwrap())
        .parse()
        .unwrap_or_else(|e| match e {});
    assert!(matches!(tcp, Address::Tcp(_)));
    // The IMAP logins also went through auth; wait until the counts have settled.
    let want = table(&dovecot.settled_stats_dump().unwrap());
    for addr in [unix, tcp] {
        let d = StatsReader::new(addr.clone(), stats.clone())
            .dump(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.version, "2.0");
        assert!(d.errors.is_empty(), "{addr}: {:?}", d.errors);
        assert_eq!(ours(&d, &stats), want, "{addr}");
    }
    // The same dump with labels rebuilt from the daemon's own metric definitions.
    let defs = config::load(&dovecot.config_path()).unwrap_or_else(|e| panic!("{e}"));
    let d = StatsReader::new(
        Address::Unix(dovecot.instance().run_dir().join("stats-reader")),
        stats.clone(),
    )
    .dump(Duration::from_secs(5))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut set = common::MetricSet::new();
    let errors = dovecot_exporter::stats::series::to_metrics(&defs, &d.rows, &stats, &mut set);
    assert!(errors.is_empty(), "{errors:?}");
    let labelled = |cmd: &str, state: &str| {
        set.value(
            "dovecot_imap_command",
            &[("cmd_name", cmd), ("tagged_reply_state", state)],
        )
    };
    assert_eq!(labelled("SELECT", "OK"), Some(2.0));
    assert_eq!(labelled("SELECT", "NO"), Some(2.0));
    assert_eq!(labelled("LOGOUT", "OK"), Some(2.0));
    assert_eq!(set.value("dovecot_auth_success", &[]), Some(4.0));
    assert_eq!(set.value("dovecot_auth_failures", &[]), Some(1.0));
    // The traffic itself, not just agreement: 2 + 2 IMAP logins succeeded, 1 failed.
    let key = |m: &str, f: &str| (m.to_string(), f.to_string());
    assert_eq!(want[&key("auth_success", "duration")][0], 4, "{want:?}");
    assert_eq!(want[&key("auth_failures", "duration")][0], 1, "{want:?}");
    assert_eq!(
        want[&key("imap_command_SELECT_OK", "duration")][0],
        2,
        "{want:?}"
    );
    assert_eq!(
        want[&key("imap_command_SELECT_NO", "duration")][0],
        2,
        "{want:?}"
    );
    assert!(want[&key("imap_command", "bytes_in")][1] > 0, "{want:?}");
    let buckets: u64 = want
        .iter()
        .filter(|((m, f), _)| m.starts_with("auth_latency_duration_") && f == "duration")
        .map(|(_, v)| v[0])
        .sum();
    assert_eq!(
        buckets, 5,
        "every auth request lands in one latency bucket: {want:?}"
    );
}

fn summary(defs: &[MetricDef]) -> Vec<(String, Vec<String>, Vec<String>)> {
    defs.iter()
        .map(|m| {
            let groups = m
                .group_by
                .iter()
                .map(|g| match &g.method {
                    GroupMethod::Discrete => g.field.clone(),
                    GroupMethod::Exponential { min, max, base } => {
                        format!("{}:exponential:{min}:{max}:{base}", g.field)
                    }
                    GroupMethod::Linear { min, max, step } => {
                        format!("{}:linear:{min}:{max}:{step}", g.field)
                    }
                })
                .collect();
            (m.name.clone(), m.fields.clone(), groups)
        })
        // doveconf -n lists the metrics sorted by name; the file keeps its own order.
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn metric_definitions_from_the_config_and_doveconf_agree() {
    let dovecot = start();
    let from_file = config::load(&dovecot.config_path()).unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new("doveconf")
        .arg("-c")
        .arg(dovecot.config_path())
        .arg("-n")
        .output()
        .expect("doveconf");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let from_doveconf = config::parse_str(&text, std::path::Path::new("doveconf -n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut want = vec![
        ("auth_success".to_string(), vec![], vec![]),
        ("auth_failures".to_string(), vec![], vec![]),
        (
            "auth_latency".to_string(),
            vec![],
            vec!["duration:exponential:1:6:10".to_string()],
        ),
        (
            "imap_command".to_string(),
            vec!["bytes_in".to_string(), "bytes_out".to_string()],
            vec!["cmd_name".to_string(), "tagged_reply_state".to_string()],
        ),
    ];
    want.sort();
    assert_eq!(summary(&from_file), want);
    assert_eq!(summary(&from_doveconf), want);
    let success = from_doveconf.iter().find(|m| m.name == "auth_success");
    assert_eq!(
        success.map(|m| m.filter.as_str()),
        Some("event=auth_request_finished AND success=yes")
    );
}
