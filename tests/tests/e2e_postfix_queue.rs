//! The whole chain on a real queue: Postfix (deferred and held mail) -> postfix-exporter's
//! queue collector over the showq inet service -> vmagent -> VictoriaMetrics. The stored
//! values must equal what `postqueue -j` says about the same queue.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::time::Duration;

use e2e_tests::{
    Exporter, Postfix, PostfixOptions, VictoriaMetrics, VmAgent, all_collectors_off, scrape_config,
};

const BIN: &str = "postfix-exporter";
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn queue_collector_over_showq_tcp_into_victoriametrics() {
    let pf = Postfix::start(PostfixOptions::new().showq_inet()).unwrap();
    // Three messages (four recipients) deferred, then one of them held.
    let counts = pf.fill_deferred_and_held(WAIT).unwrap();

    // Every other collector off, so the test does not depend on which others exist.
    let mut args: Vec<String> = all_collectors_off(BIN)
        .unwrap()
        .into_iter()
        .filter(|f| f != "--no-collector.queue")
        .collect();
    args.extend([
        "--collector.queue".to_string(),
        "--postfix.showq_network=tcp".to_string(),
        format!("--postfix.showq_address={}", pf.showq_addr().unwrap()),
        "--collector.queue.interval=1s".to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let exporter = Exporter::start(BIN, &args).unwrap();

    let vm = VictoriaMetrics::start().unwrap();
    let _agent = VmAgent::start(
        &scrape_config("postfix", &exporter.target(), "/metrics"),
        &vm,
    )
    .unwrap();

    let up = vm
        .wait_for_query(r#"postfix_up{job="postfix"}"#, |s| s.len() == 1, WAIT)
        .unwrap();
    assert_eq!(up[0].value, 1.0);

    let messages = vm
        .wait_for_query(
            r#"postfix_queue_messages{job="postfix"}"#,
            |s| s.len() == 5,
            WAIT,
        )
        .unwrap();
    for s in &messages {
        let queue = s.label("queue");
        assert_eq!(s.value, counts[queue] as f64, "queue {queue}: {messages:?}");
    }

    // Recipients: postqueue -j lists each message's recipients.
    let mut recipients = std::collections::BTreeMap::<String, f64>::new();
    for line in pf.postqueue_j().unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *recipients
            .entry(v["queue_name"].as_str().unwrap().to_string())
            .or_default() += v["recipients"].as_array().unwrap().len() as f64;
    }
    let stored = vm
        .query(r#"postfix_queue_recipients{job="postfix",queue=~"deferred|hold"}"#)
        .unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    for s in &stored {
        assert_eq!(
            Some(&s.value),
            recipients.get(s.label("queue")),
            "{stored:?} vs {recipients:?}"
        );
    }
    assert_eq!(recipients.values().sum::<f64>(), 4.0);

    // Every deferred recipient failed on the closed relayhost.
    let refused = vm
        .query(r#"postfix_queue_delay_reasons{job="postfix",queue="deferred",reason="connection_refused"}"#)
        .unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(Some(&refused[0].value), recipients.get("deferred"));
}
