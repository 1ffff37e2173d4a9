//! The real Postfix 3.7 log captured by `scripts/capture-postfix-maillog.sh` fed through
//! the log handler; the full exposition is compared to a golden file
//! (`UPDATE_GOLDEN=1 cargo test -p postfix-exporter --test log_golden` rewrites it) and
//! the key numbers are asserted one by one with where they come from (see
//! `postfix-3.7.expected.json` for what the script sent).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::SystemTime;

use common::follow::{LineHandler, LineOutcome};
use common::logline::{self, PrefixFormat};
use e2e_tests::golden::{canonicalise, compare_or_update};
use postfix_exporter::logmetrics::{LogMetrics, LogMetricsOptions};
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

const TS_METRIC: &str = "postfix_log_last_line_timestamp_seconds";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/maillog")
        .join(name)
}

fn real_log() -> String {
    std::fs::read_to_string(fixture("postfix-3.7.log")).unwrap()
}

/// Feeds lines, returns (exposition without the time-dependent timestamp sample, outcomes).
fn run<'a>(lines: impl IntoIterator<Item = &'a str>) -> (String, Vec<(String, LineOutcome)>) {
    run_with(LogMetricsOptions::default(), lines)
}

fn run_with<'a>(
    opts: LogMetricsOptions,
    lines: impl IntoIterator<Item = &'a str>,
) -> (String, Vec<(String, LineOutcome)>) {
    let m = LogMetrics::new(opts);
    let outcomes = lines
        .into_iter()
        .map(|l| (l.to_string(), m.handle_line(l)))
        .collect();
    // What the follower does after each read: publish the batched updates.
    m.flush();
    (expose(&m), outcomes)
}

fn expose(m: &LogMetrics) -> String {
    let mut r = Registry::default();
    m.register(&mut r);
    let mut s = String::new();
    encode(&mut s, &r).unwrap();
    // Masks the BSD timestamp (no year: its value depends on today's date; checked on its
    // own in `last_line_timestamp`) and orders the series of each family.
    canonicalise(&s)
}

fn sample(expo: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = expo
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no sample {series}\n{expo}"));
    line[prefix.len()..].parse().unwrap()
}

fn unsupported(outcomes: &[(String, LineOutcome)]) -> Vec<&str> {
    outcomes
        .iter()
        .filter(|(_, o)| matches!(o, LineOutcome::Unsupported(_)))
        .map(|(l, _)| l.as_str())
        .collect()
}

#[test]
fn golden_exposition_of_real_log() {
    let log = real_log();
    let (expo, outcomes) = run(log.lines());
    assert_eq!(outcomes.len(), 217);
    assert!(
        unsupported(&outcomes).is_empty(),
        "unsupported: {:#?}",
        unsupported(&outcomes)
    );
    assert!(outcomes.iter().all(|(_, o)| *o == LineOutcome::Recognised));

    compare_or_update(&fixture("postfix-3.7.metrics"), &expo).unwrap();
}

#[test]
fn key_numbers_explained() {
    let log = real_log();
    let (e, _) = run(log.lines());
    let d = |daemon: &str, status: &str, class: &str| {
        sample(
            &e,
            &format!(
                "postfix_deliveries_total{{postfix_instance=\"postfix\",service=\"\",daemon=\"{daemon}\",status=\"{status}\",dsn_class=\"{class}\"}}"
            ),
        )
    };
    // smtp sent: 3 sendmail to the sink + 3 swaks accepted (bob4, bob5, bob6) + carl@tlsrelay.test
    // to the submission smtpd + its REDIRECT to bob@sink.test + 5 non-delivery notifications
    // to alice@sink.test (2 rejecting sink, 1 unknown local user, 1 force-expired, 1 expired).
    assert_eq!(d("smtp", "sent", "2"), 13.0);
    // The postfix-out/sinkout transport has its own instance and service labels.
    assert_eq!(
        sample(
            &e,
            "postfix_deliveries_total{postfix_instance=\"postfix-out\",service=\"sinkout\",daemon=\"smtp\",status=\"sent\",dsn_class=\"2\"}"
        ),
        1.0
    );
    assert_eq!(d("smtp", "bounced", "5"), 2.0); // carol1/2@bounce.test
    // dave1 and dave2 once each, dave1 again after `postsuper -r` and after `postqueue -f`.
    assert_eq!(d("smtp", "deferred", "4"), 4.0);
    assert_eq!(d("local", "sent", "2"), 1.0); // root@
    assert_eq!(d("local", "bounced", "5"), 1.0); // nosuchuser@ via sendmail
    assert_eq!(d("qmgr", "expired", "4"), 2.0); // postsuper -e dave2, lifetime 1s dave1
    assert_eq!(sample(&e, "postfix_qmgr_messages_expired_total"), 2.0);
    // kumina's smtp counter sums over instances: 13 + 1 postfix-out.
    assert_eq!(
        sample(&e, "postfix_smtp_messages_processed_total{status=\"sent\"}"),
        14.0
    );
    assert_eq!(
        sample(
            &e,
            "postfix_smtp_messages_processed_total{status=\"deferred\"}"
        ),
        4.0
    );

    // Delays only on final statuses: 14 sent + 2 bounced smtp, never the 4 deferrals.
    assert_eq!(
        sample(
            &e,
            "postfix_smtp_delivery_delay_seconds_count{stage=\"before_queue_manager\"}"
        ),
        16.0
    );
    assert_eq!(
        sample(
            &e,
            "postfix_smtp_delivery_delay_seconds_count{stage=\"transmission\"}"
        ),
        16.0
    );
    assert_eq!(
        sample(
            &e,
            "postfix_delivery_delay_seconds_count{postfix_instance=\"postfix\",service=\"\",daemon=\"smtp\",stage=\"total\"}"
        ),
        15.0
    );
    assert_eq!(
        sample(
            &e,
            "postfix_delivery_delay_seconds_count{postfix_instance=\"postfix\",service=\"\",daemon=\"local\",stage=\"queue_manager\"}"
        ),
        2.0
    );

    // 23 activations; 3 of them deferred and stayed queued (dave1, dave2, requeued dave1).
    assert_eq!(
        sample(&e, "postfix_qmgr_messages_inserted_size_bytes_count"),
        23.0
    );
    assert_eq!(
        sample(&e, "postfix_qmgr_messages_inserted_recipients_count"),
        23.0
    );
    assert_eq!(sample(&e, "postfix_qmgr_messages_removed_total"), 20.0);

    // smtpd: 10 swaks + 1 submission + 3 raw sessions + allowlisted + PASS OLD via postscreen.
    assert_eq!(sample(&e, "postfix_smtpd_connects_total"), 16.0);
    assert_eq!(sample(&e, "postfix_smtpd_disconnects_total"), 16.0);
    // client= lines: bob4, bob5, REJECTME, warn.test, hold, discard, submission = 7, no SASL.
    assert_eq!(
        sample(
            &e,
            "postfix_smtpd_messages_processed_total{sasl_method=\"\"}"
        ),
        7.0
    );
    assert_eq!(
        sample(
            &e,
            "postfix_smtpd_connections_lost_total{after_stage=\"EHLO\"}"
        ),
        1.0
    );
    let svc = "postfix_instance=\"postfix\",service=\"\"";
    assert_eq!(
        sample(
            &e,
            &format!("postfix_smtpd_timeouts_total{{{svc},after_stage=\"EHLO\"}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &e,
            &format!("postfix_smtpd_too_many_errors_total{{{svc},after_stage=\"UNKNOWN\"}}")
        ),
        1.0
    );
    // kumina: NOQUEUE reject at RCPT by code: relay denied (xclient + postscreen PASS OLD
    // client), unknown user, access REJECT, invalid HELO.
    assert_eq!(
        sample(&e, "postfix_smtpd_messages_rejected_total{code=\"454\"}"),
        2.0
    );
    assert_eq!(
        sample(&e, "postfix_smtpd_messages_rejected_total{code=\"550\"}"),
        1.0
    );
    assert_eq!(
        sample(&e, "postfix_smtpd_messages_rejected_total{code=\"554\"}"),
        1.0
    );
    assert_eq!(
        sample(&e, "postfix_smtpd_messages_rejected_total{code=\"501\"}"),
        1.0
    );
    let rej = |action: &str, code: &str, enh: &str, reason: &str| {
        sample(
            &e,
            &format!(
                "postfix_smtpd_rejects_total{{{svc},action=\"{action}\",stage=\"RCPT\",code=\"{code}\",enhanced_code=\"{enh}\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(rej("reject", "454", "4.7.1", "relay_denied"), 2.0);
    assert_eq!(rej("reject", "550", "5.1.1", "unknown_user"), 1.0);
    assert_eq!(rej("reject", "554", "5.7.1", "policy"), 1.0);
    assert_eq!(rej("reject", "501", "5.5.2", "helo"), 1.0);
    assert_eq!(rej("reject_warning", "554", "5.7.1", "policy"), 1.0);
    assert_eq!(rej("hold", "", "", "other"), 1.0);
    assert_eq!(rej("discard", "", "", "other"), 1.0);
    assert_eq!(
        sample(
            &e,
            "postfix_smtpd_rejects_total{postfix_instance=\"postfix\",service=\"submission\",action=\"redirect\",stage=\"RCPT\",code=\"\",enhanced_code=\"\",reason=\"other\"}"
        ),
        1.0
    );
    // Commands from the 16 disconnect lines.
    let cmd = |c: &str, r: &str| {
        sample(
            &e,
            &format!("postfix_smtpd_commands_total{{{svc},command=\"{c}\",result=\"{r}\"}}"),
        )
    };
    // 12 × ehlo=1 + 3 × ehlo=2 = 18, minus the submission smtpd's ehlo=2 (its own service).
    assert_eq!(cmd("ehlo", "accepted"), 16.0);
    assert_eq!(cmd("rcpt", "rejected"), 5.0);
    assert_eq!(cmd("unknown", "rejected"), 3.0);
    assert_eq!(cmd("xclient", "rejected"), 1.0);
    assert_eq!(cmd("data", "rejected"), 1.0);

    // TLS: swaks --tls and the submission smtpd (inbound), the smtp client to submission.
    assert_eq!(
        sample(
            &e,
            "postfix_smtpd_tls_connections_total{trust=\"Anonymous\",protocol=\"TLSv1.3\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &e,
            "postfix_smtp_tls_connections_total{trust=\"Untrusted\",protocol=\"TLSv1.3\"}"
        ),
        1.0
    );

    assert_eq!(sample(&e, "postfix_cleanup_messages_processed_total"), 22.0);
    assert_eq!(sample(&e, "postfix_cleanup_messages_rejected_total"), 1.0); // Subject: REJECTME
    assert_eq!(
        sample(&e, "postfix_bounce_non_delivery_notification_total"),
        5.0
    );
    assert_eq!(
        sample(
            &e,
            &format!("postfix_bounce_notifications_total{{{svc},type=\"non_delivery\"}}")
        ),
        5.0
    );

    // postscreen: 9 connections from 127.0.0.1-8.
    assert_eq!(sample(&e, "postfix_postscreen_connects_total"), 9.0);
    assert_eq!(
        sample(&e, "postfix_postscreen_passes_total{type=\"new\"}"),
        1.0
    );
    assert_eq!(
        sample(&e, "postfix_postscreen_passes_total{type=\"old\"}"),
        1.0
    );
    assert_eq!(
        sample(&e, &format!("postfix_postscreen_pregreets_total{{{svc}}}")),
        1.0
    );
    assert_eq!(sample(&e, "postfix_postscreen_hangups_total"), 4.0);
    assert_eq!(
        sample(
            &e,
            "postfix_postscreen_access_list_matches_total{action=\"allow\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &e,
            "postfix_postscreen_access_list_matches_total{action=\"deny\"}"
        ),
        1.0
    );
    for v in ["pipelining", "bare_newline", "non_smtp_command"] {
        assert_eq!(
            sample(
                &e,
                &format!("postfix_postscreen_command_violations_total{{{svc},violation=\"{v}\"}}")
            ),
            1.0
        );
    }
    assert_eq!(
        sample(
            &e,
            "postfix_postscreen_messages_rejected_total{code=\"550\"}"
        ),
        1.0
    ); // denylisted
    assert_eq!(
        sample(
            &e,
            "postfix_postscreen_messages_rejected_total{code=\"450\"}"
        ),
        1.0
    ); // after deep tests

    for a in ["hold", "release", "requeue", "delete", "expire"] {
        assert_eq!(
            sample(
                &e,
                &format!("postfix_postsuper_actions_total{{{svc},action=\"{a}\"}}")
            ),
            1.0,
            "{a}"
        );
    }
    assert!(
        !e.contains("postfix_log_messages_by_severity_total{"),
        "the capture has no warnings"
    );
}

#[test]
fn last_line_timestamp() {
    let log = real_log();
    let m = LogMetrics::new(LogMetricsOptions::default());
    for l in log.lines() {
        m.handle_line(l);
    }
    let mut r = Registry::default();
    m.register(&mut r);
    let mut s = String::new();
    encode(&mut s, &r).unwrap();
    let got = sample(&s, TS_METRIC);
    let last = log.lines().last().unwrap();
    let want = logline::parse_timestamp(
        logline::parse(last).unwrap().timestamp,
        PrefixFormat::Bsd,
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(got, want);
    assert!(got > 1.7e9);
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Re-renders a captured `maillog_file` line in another prefix format.
fn convert(line: &str, format: &str) -> String {
    let p = logline::parse(line).unwrap();
    let ts = p.timestamp; // "Nov 23 15:04:52"
    let mon = MONTHS.iter().position(|m| ts.starts_with(m)).unwrap() + 1;
    let day: u32 = ts[4..6].trim().parse().unwrap();
    let iso = format!("2026-{mon:02}-{day:02}T{}.123456+00:00", &ts[7..15]);
    let host = p.host.unwrap();
    let pid = p.pid.unwrap();
    let (prog, msg) = (p.program, p.message);
    match format {
        "rfc3164-pri" => format!("<22>{ts} {host} {prog}[{pid}]: {msg}"),
        "iso" => format!("{iso} {host} {prog}[{pid}]: {msg}"),
        "rfc5424" => format!("<22>1 {iso} {host} {prog} {pid} - -  {msg}"),
        "rfc5424-noslash" => {
            let instance = prog.split('/').next().unwrap();
            format!("<22>1 {iso} {host} {instance} {pid} - -  {msg}")
        }
        "cri" => format!("2026-11-23T15:04:52.123456789Z stdout F {line}"),
        _ => unreachable!(),
    }
}

#[test]
fn every_prefix_format_gives_identical_metrics() {
    let log = real_log();
    let (want, _) = run(log.lines());
    for format in ["rfc3164-pri", "iso", "rfc5424", "cri"] {
        let lines: Vec<String> = log.lines().map(|l| convert(l, format)).collect();
        let (got, outcomes) = run(lines.iter().map(String::as_str));
        assert!(
            unsupported(&outcomes).is_empty(),
            "{format}: {:#?}",
            unsupported(&outcomes)
        );
        assert_eq!(got, want, "{format}");
    }
}

#[test]
fn rfc5424_without_slash_infers_the_daemon() {
    // rsyslog drops `/smtpd` from APP-NAME by default. Without the service part the
    // instance/service labels cannot be told, and postsuper's `QID: removed` reads like
    // qmgr's, so this compares the plain `postfix/<daemon>` lines minus that one.
    let log = real_log();
    let subset: Vec<&str> = log
        .lines()
        .filter(|l| {
            let p = logline::parse(l).unwrap();
            p.program.matches('/').count() == 1
                && p.program.starts_with("postfix/")
                && !(p.program == "postfix/postsuper" && p.message.ends_with(": removed"))
        })
        .collect();
    let submission = log
        .lines()
        .filter(|l| l.contains(" postfix/submission/smtpd["))
        .count();
    assert_eq!(subset.len(), 217 - 1 - 1 - submission);
    let (want, _) = run(subset.iter().copied());
    let lines: Vec<String> = subset
        .iter()
        .map(|l| convert(l, "rfc5424-noslash"))
        .collect();
    let (got, outcomes) = run(lines.iter().map(String::as_str));
    assert!(
        unsupported(&outcomes).is_empty(),
        "{:#?}",
        unsupported(&outcomes)
    );
    assert_eq!(got, want);
}

#[test]
fn foreign_programs_are_counted_not_parsed() {
    let log = real_log();
    let (want, _) = run(log.lines());
    let foreign = [
        "Nov 23 15:04:55 mx dovecot: imap-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=123",
        "Nov 23 15:04:55 mx dovecot[77]: lmtp(alice)<123><abc>: msgid=<x@y>: saved mail to INBOX",
        "Nov 23 15:04:55 mx opendkim[88]: 631F398C2C2: DKIM-Signature field added (s=mail, d=example.com)",
        "Nov 23 15:04:55 mx amavis[99]: (00123-01) Passed CLEAN {RelayedInbound}, [127.0.0.1]:4000 <a@b> -> <c@d>",
        "Nov 23 15:04:55 mx postfixadmin[1]: not a postfix instance: no dash after postfix",
    ];
    let mut lines: Vec<&str> = Vec::new();
    for (i, l) in log.lines().enumerate() {
        lines.push(l);
        if i % 40 == 0 {
            lines.extend(foreign);
        }
    }
    let (got, outcomes) = run(lines.iter().copied());
    assert_eq!(
        outcomes
            .iter()
            .filter(|(_, o)| *o == LineOutcome::Handled)
            .count(),
        6 * foreign.len()
    );
    let strip = |s: &str| {
        s.lines()
            .filter(|l| {
                !l.contains("postfix_log_foreign_lines") && !l.contains("opendkim_signatures_added")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&got), strip(&want));
    assert_eq!(
        sample(&got, "postfix_log_foreign_lines_total{program=\"dovecot\"}"),
        12.0
    );
    // kumina counts OpenDKIM's signatures from the same log; so does this exporter.
    assert_eq!(
        sample(
            &got,
            "opendkim_signatures_added_total{subject=\"mail\",domain=\"example.com\"}"
        ),
        6.0
    );
    assert_eq!(
        sample(
            &got,
            "postfix_log_foreign_lines_total{program=\"opendkim\"}"
        ),
        6.0
    );
    assert_eq!(
        sample(&got, "postfix_log_foreign_lines_total{program=\"amavis\"}"),
        6.0
    );
    assert_eq!(
        sample(
            &got,
            "postfix_log_foreign_lines_total{program=\"postfixadmin\"}"
        ),
        6.0
    );
}

#[test]
fn garbage_truncated_long_and_future_lines_are_unsupported() {
    let long = format!(
        "Nov 23 15:04:55 mx postfix/smtpd[1]: {}",
        "x".repeat(1 << 20)
    );
    let long_delivery = format!(
        "Nov 23 15:04:55 mx postfix/smtp[1]: ABCDE12345: to=<{}@example.com>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (x)",
        "a".repeat(100_000)
    );
    let cases: Vec<(&str, &str)> = vec![
        ("", "unknown"),
        ("garbage", "unknown"),
        ("\u{fffd}\u{fffd}\u{fffd}", "unknown"),
        (
            "Nov 23 15:04:55 mx postfix/smtp[1]: ABCDE12345: to=<bob@sink.test>, relay=127.0.0.1[127.0.0.1]:20028, delay=0.06, del",
            "smtp",
        ),
        (
            "Nov 23 15:04:55 mx postfix/qmgr[1]: ABCDE12345: from=<a@b>, size=",
            "qmgr",
        ),
        (
            "Nov 23 15:04:55 mx postfix/smtpd[1]: disconnect from x[1.2.3.4] ehlo=1 mail=",
            "smtpd",
        ),
        (
            "Nov 23 15:04:55 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[1.2.3.4",
            "smtpd",
        ),
        (long.as_str(), "smtpd"),
        // Future shapes: a new status, a new daemon, a new postscreen verdict.
        (
            "Nov 23 15:04:55 mx postfix/smtp[1]: ABCDE12345: to=<a@b>, relay=none, delay=0, delays=0/0/0/0, dsn=2.0.0, status=quantum (x)",
            "smtp",
        ),
        (
            "Nov 23 15:04:55 mx postfix/frobnicator[1]: ABCDE12345: something new",
            "other",
        ),
        (
            "Nov 23 15:04:55 mx postfix/postscreen[1]: TELEPATHY FAIL [1.2.3.4]:5",
            "postscreen",
        ),
    ];
    let m = LogMetrics::new(LogMetricsOptions::default());
    for (line, daemon) in &cases {
        assert_eq!(
            m.handle_line(line),
            LineOutcome::Unsupported(daemon.to_string()),
            "{}",
            &line[..line.len().min(120)]
        );
    }
    // A very long but well-formed line is still parsed.
    assert_eq!(m.handle_line(&long_delivery), LineOutcome::Recognised);
}

#[test]
fn service_allow_list_from_master_cf() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.cf");
    std::fs::write(&master, "smtp inet n - y - - smtpd\nsubmission inet n - y - - smtpd\n  -o syslog_name=postfix/submission\n").unwrap();
    let opts = LogMetricsOptions::default()
        .with_master_cf(&master)
        .unwrap();
    let log = real_log();
    let (e, _) = run_with(opts, log.lines());
    // `sinkout` is not in this master.cf: its series fold into service="other".
    assert_eq!(
        sample(
            &e,
            "postfix_deliveries_total{postfix_instance=\"postfix-out\",service=\"other\",daemon=\"smtp\",status=\"sent\",dsn_class=\"2\"}"
        ),
        1.0
    );
    assert!(e.contains("service=\"submission\""));
    assert!(!e.contains("service=\"sinkout\""));
}
