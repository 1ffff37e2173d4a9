//! The alert rules in alerts/: rendered from their sources, accepted by Prometheus' promtool
//! (2.42) and VictoriaMetrics' vmalert (1.79) alike, unit-tested at every alert's boundary,
//! following the naming and annotation conventions, and naming only metrics that exist.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::{read_yaml, workspace_root};
use serde_norway::Value;

fn rule_files(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root.join("alerts"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    v.sort();
    v
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Every alert rule: (file stem, rule).
fn alerts(root: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for f in rule_files(root) {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        let doc: Value = read_yaml(&f).unwrap();
        for g in doc["groups"].as_sequence().unwrap() {
            for r in g["rules"].as_sequence().unwrap() {
                if r.get("alert").is_some() {
                    out.push((stem.clone(), r.clone()));
                }
            }
        }
    }
    out
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}; run scripts/install-deps.sh"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every generated file (rules, thresholds doc, dashboards, console pages) is what
/// scripts/generate.sh writes.
#[test]
fn generated_files_are_up_to_date() {
    let stale = e2e_tests::artifacts::stale(&workspace_root()).unwrap();
    assert!(
        stale.is_empty(),
        "out of date (run scripts/generate.sh): {stale:?}"
    );
}

#[test]
fn promtool_and_vmalert_accept_every_rule_file() {
    let root = workspace_root();
    let files = rule_files(&root);
    assert_eq!(files.len(), 5, "{files:?}");
    let (ok, out) = run(Command::new("promtool")
        .arg("check")
        .arg("rules")
        .args(&files));
    assert!(ok, "promtool check rules:\n{out}");
    assert_eq!(out.matches("SUCCESS").count(), files.len(), "{out}");
    let mut vm = Command::new("vmalert");
    vm.arg("-dryRun");
    for f in &files {
        vm.arg(format!("-rule={}", f.display()));
    }
    let (ok, out) = run(&mut vm);
    assert!(ok, "vmalert -dryRun:\n{out}");
    // vmalert exits 0 after "no groups found" only with other files; every file must count.
    assert!(!out.contains("no groups found"), "{out}");
}

#[test]
fn promtool_unit_tests_pass() {
    let root = workspace_root();
    let mut tests: Vec<_> = std::fs::read_dir(root.join("alerts/tests"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    tests.sort();
    assert_eq!(
        tests.len(),
        rule_files(&root).len(),
        "one test file per rule file"
    );
    let (ok, out) = run(Command::new("promtool")
        .arg("test")
        .arg("rules")
        .args(&tests));
    assert!(ok, "promtool test rules:\n{out}");
    assert_eq!(out.matches("SUCCESS").count(), tests.len(), "{out}");
}

fn minutes(d: &str) -> u64 {
    let (n, unit) = d.split_at(d.len() - 1);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("duration {d}"));
    match unit {
        "m" => n,
        "h" => n * 60,
        "d" => n * 1440,
        _ => panic!("duration {d}: use m, h or d"),
    }
}

/// Each alert has a firing case whose evaluation one minute earlier is a silent case, and
/// each firing case gives exact labels and annotations; the alert's own labels and the
/// rendered annotations' runbook link are in every expected alert.
#[test]
fn every_alert_is_tested_at_its_boundary() {
    let root = workspace_root();
    let mut cases: BTreeMap<String, (BTreeSet<u64>, BTreeSet<u64>)> = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("alerts/tests")).unwrap() {
        let path = entry.unwrap().path();
        let doc: Value = read_yaml(&path).unwrap();
        assert_eq!(str_of(&doc, "evaluation_interval"), Some("1m"), "{path:?}");
        for t in doc["tests"].as_sequence().unwrap() {
            assert_eq!(str_of(t, "interval"), Some("1m"), "{path:?}");
            for c in t["alert_rule_test"].as_sequence().unwrap() {
                let name = str_of(c, "alertname").unwrap().to_string();
                let at = minutes(str_of(c, "eval_time").unwrap());
                let exp = c["exp_alerts"].as_sequence().unwrap();
                for a in exp {
                    assert!(
                        a.get("exp_annotations").is_some(),
                        "{path:?}: {name} at {at}m: give the exact annotations"
                    );
                }
                let e = cases.entry(name).or_default();
                if exp.is_empty() {
                    e.0.insert(at);
                } else {
                    e.1.insert(at);
                }
            }
        }
    }
    let mut missing = Vec::new();
    for (_, rule) in alerts(&root) {
        let name = str_of(&rule, "alert").unwrap();
        let (silent, firing) = cases.get(name).cloned().unwrap_or_default();
        if !firing.iter().any(|f| *f > 0 && silent.contains(&(f - 1))) {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "alerts without a silent case one minute before a firing one: {missing:?}"
    );
}

#[test]
fn every_alert_follows_the_conventions() {
    let root = workspace_root();
    let runbook = std::fs::read_to_string(root.join("docs/runbook.md")).unwrap();
    let prefix: BTreeMap<&str, &str> = [
        ("postfix", "Postfix"),
        ("dovecot", "Dovecot"),
        ("proftpd", "ProFTPd"),
        ("mailprobe", "MailProbe"),
        ("mailpod", "MailPod"),
    ]
    .into_iter()
    .collect();
    let all = alerts(&root);
    assert!(all.len() >= 35, "{} alerts", all.len());
    let mut names = BTreeSet::new();
    for (stem, rule) in &all {
        let name = str_of(rule, "alert").unwrap();
        assert!(names.insert(name), "{name} twice");
        assert!(name.starts_with(prefix[stem.as_str()]), "{stem}: {name}");
        let sev = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning", "info"].contains(&sev),
            "{name}: severity {sev:?}"
        );
        let ann = &rule["annotations"];
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                ann.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()),
                "{name}: annotation {key}"
            );
        }
        let url = ann["runbook_url"].as_str().unwrap();
        assert!(
            url.ends_with(&format!("/docs/runbook.md#{}", name.to_lowercase())),
            "{name}: {url}"
        );
        assert!(
            runbook.contains(&format!("\n## {name}\n")),
            "docs/runbook.md has no section for {name}"
        );
        // Thresholds belong in alerts/src/thresholds.yml; a rendered file must hold none open.
        let text = serde_norway::to_string(rule).unwrap();
        assert!(!text.contains("[["), "{name}: unrendered placeholder");
    }
}

/// Every metric an alert names is in an exporter's golden output (or is one of the
/// Kubernetes and scrape metrics of other programs): a renamed metric cannot leave a rule
/// that silently never fires.
#[test]
fn every_metric_named_exists() {
    let root = workspace_root();
    let known = e2e_tests::promql::golden_names(&root.join("tests/golden")).unwrap();
    let mut unknown = BTreeSet::new();
    for (_, rule) in alerts(&root) {
        let name = str_of(&rule, "alert").unwrap();
        for m in e2e_tests::promql::metric_names(str_of(&rule, "expr").unwrap()).unwrap() {
            if !known.contains(&m) && !e2e_tests::promql::is_external(&m) {
                unknown.insert(format!("{name}: {m}"));
            }
        }
    }
    assert!(unknown.is_empty(), "not in tests/golden/: {unknown:#?}");
}
