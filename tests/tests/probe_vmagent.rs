//! blackbox_exporter's scrape recipe, unchanged, in a real vmagent 1.79 writing to a real
//! VictoriaMetrics: `/probe` with `module` from `params`, the target from `__address__`
//! (relabelled into `__param_target` and `instance`), the prober's own `/metrics` as a
//! second job. The probe of a real Postfix and the refusal of a closed port arrive with the
//! instance labels, and the timeout vmagent sends becomes the probe's budget.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e_tests::probe::Prober;
use e2e_tests::{Postfix, PostfixOptions, VictoriaMetrics, VmAgent, net};

#[test]
fn vmagent_drives_probe_with_the_blackbox_relabelling() {
    let pf = Postfix::start(PostfixOptions::new()).unwrap();
    let p = Prober::start("modules:\n  smtp_banner:\n    prober: smtp\n", &[]).unwrap();
    let vm = VictoriaMetrics::start().unwrap();
    let closed = net::free_port();
    let prober = p.exporter.target();
    let smtp = pf.smtp_addr().to_string();
    let config = format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: mail_probe_smtp
    metrics_path: /probe
    params:
      module: [smtp_banner]
    static_configs:
      - targets: ['{smtp}', '127.0.0.1:{closed}']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: {prober}
  - job_name: mailprobe
    static_configs:
      - targets: ['{prober}']
"#
    );
    let _agent = VmAgent::start(&config, &vm).unwrap();
    let t = Duration::from_secs(30);
    let ok = vm
        .wait_for_query(
            &format!(r#"probe_success{{job="mail_probe_smtp",instance="{smtp}"}}"#),
            |s| s.len() == 1 && s[0].value == 1.0,
            t,
        )
        .unwrap();
    assert_eq!(ok[0].labels["instance"], smtp);
    let refused = vm
        .wait_for_query(
            &format!(
                r#"probe_failed_phase_info{{job="mail_probe_smtp",instance="127.0.0.1:{closed}"}}"#
            ),
            |s| s.len() == 1,
            t,
        )
        .unwrap();
    assert_eq!(refused[0].labels["phase"], "connect");
    assert_eq!(refused[0].labels["reason"], "refused");
    // vmagent's 900 ms timeout minus the 500 ms offset.
    let budget = vm
        .wait_for_query(
            &format!(r#"probe_timeout_seconds{{instance="{smtp}"}}"#),
            |s| s.len() == 1,
            t,
        )
        .unwrap();
    assert!((budget[0].value - 0.4).abs() < 1e-9, "{}", budget[0].value);
    vm.wait_for_query(
        r#"mailprobe_probes_total{job="mailprobe",module="smtp_banner",result="success"}"#,
        |s| s.len() == 1 && s[0].value >= 1.0,
        t,
    )
    .unwrap();
}
