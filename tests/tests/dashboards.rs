//! The Grafana dashboards in dashboards/: generated from their sources, valid against
//! Grafana's dashboard schema, and held to the lint rules of Grafana's dashboard-linter
//! (re-implemented here): one `datasource` variable and no hard-coded data source, `job` /
//! `instance` (or `namespace` / `pod`) variables, titles, descriptions and units on every
//! panel, queries that parse, every selector filtered by the variables, counters only in
//! `rate`/`irate`/`increase` over `$__rate_interval`, and only metrics that exist.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e_tests::promql::{golden_names, is_external, parse, uses};
use e2e_tests::workspace_root;
use serde_json::Value;

/// What `$__rate_interval`, `$__interval` and `$__range` read as when a query is parsed:
/// unusual ranges, so the lint can tell which one a range selector used.
const RATE_INTERVAL: Duration = Duration::from_secs(1111);
const SUBSTITUTES: [(&str, &str); 3] = [
    ("$__rate_interval", "1111s"),
    ("$__interval", "2222s"),
    ("$__range", "3333s"),
];

fn dashboards(root: &Path) -> Vec<(PathBuf, Value)> {
    let mut v: Vec<_> = std::fs::read_dir(root.join("dashboards"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let j = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, j)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// A query as the data source sees it: Grafana's interval variables as ranges, and the
/// dashboard's variables as `__var_NAME__` (a regex a matcher can hold).
fn substituted(expr: &str) -> String {
    let mut e = expr.to_string();
    for (var, with) in SUBSTITUTES {
        e = e.replace(var, with);
    }
    for var in ["job", "instance", "namespace", "pod"] {
        e = e.replace(&format!("${var}"), &format!("__var_{var}__"));
    }
    e
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Every `datasource` object anywhere in `v`.
fn datasources<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "datasource" && x.is_object() {
                    out.push(x);
                }
                datasources(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| datasources(x, out)),
        _ => {}
    }
}

fn is_counter_sample(name: &str) -> bool {
    ["_total", "_bucket", "_count", "_sum"]
        .iter()
        .any(|s| name.ends_with(s))
}

#[test]
fn five_dashboards_with_stable_uids() {
    let root = workspace_root();
    let uids: BTreeSet<String> = dashboards(&root)
        .iter()
        .map(|(_, d)| str_at(d, "uid").to_string())
        .collect();
    assert_eq!(
        uids.into_iter().collect::<Vec<_>>(),
        [
            "mail-dovecot",
            "mail-postfix-queues",
            "mail-postfix-traffic",
            "mail-probes-pods",
            "mail-proftpd"
        ]
    );
}

#[test]
fn every_dashboard_follows_the_lint_rules() {
    let root = workspace_root();
    let known = golden_names(&root.join("tests/golden")).unwrap();
    let mut problems = Vec::new();
    for (path, d) in dashboards(&root) {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut bad = |what: String| problems.push(format!("{file}: {what}"));
        if d["schemaVersion"] != 42 {
            bad("schemaVersion is not 42".into());
        }
        for key in ["uid", "title", "description"] {
            if str_at(&d, key).is_empty() {
                bad(format!("no {key}"));
            }
        }
        if str_at(&d, "uid").len() > 40 {
            bad("uid longer than 40".into());
        }
        // Variables.
        let vars = d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ds: Vec<_> = vars.iter().filter(|v| v["type"] == "datasource").collect();
        if ds.len() != 1
            || ds[0]["name"] != "datasource"
            || ds[0]["query"] != "prometheus"
            || ds[0]["label"] != "Data Source"
        {
            bad("needs exactly one `datasource` variable of type prometheus".into());
        }
        let names: BTreeSet<&str> = vars.iter().map(|v| str_at(v, "name")).collect();
        let has_job = names.contains("job") && names.contains("instance");
        let has_pod = names.contains("namespace") && names.contains("pod");
        if !has_job && !has_pod {
            bad("needs job and instance (or namespace and pod) variables".into());
        }
        for v in vars.iter().filter(|v| v["type"] == "query") {
            let n = str_at(v, "name");
            let ok = v["datasource"]["uid"] == "${datasource}"
                && str_at(v, "query").starts_with("label_values(")
                && v["refresh"] == 2
                && v["multi"] == true
                && v["includeAll"] == true
                && v["allValue"] == ".+";
            if !ok {
                bad(format!(
                    "variable {n}: label_values on $datasource, refresh on time change, multi, All = .+"
                ));
            }
        }
        // No data source but the variable (and Grafana's own for annotations).
        let mut refs = Vec::new();
        datasources(&d, &mut refs);
        for r in refs {
            let builtin = r["type"] == "grafana" && r["uid"] == "-- Grafana --";
            if r["uid"] != "${datasource}" && !builtin {
                bad(format!("hard-coded data source {r}"));
            }
        }
        // Panels.
        for p in d["panels"].as_array().cloned().unwrap_or_default() {
            if p["type"] == "row" {
                continue;
            }
            let title = str_at(&p, "title").to_string();
            if title.is_empty() || str_at(&p, "description").is_empty() {
                bad(format!("panel {title:?}: title and description"));
            }
            if str_at(&p["fieldConfig"]["defaults"], "unit").is_empty() {
                bad(format!("panel {title:?}: no unit"));
            }
            let g = &p["gridPos"];
            if g["x"].as_u64().unwrap_or(99) + g["w"].as_u64().unwrap_or(99) > 24 {
                bad(format!("panel {title:?}: wider than the grid"));
            }
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                bad(format!("panel {title:?}: no query"));
            }
            for t in targets {
                let expr = str_at(&t, "expr");
                let e = match parse(&substituted(expr)) {
                    Ok(e) => e,
                    Err(err) => {
                        bad(format!("panel {title:?}: {expr} does not parse: {err}"));
                        continue;
                    }
                };
                for u in uses(&e) {
                    let m = |label: &str| {
                        u.matchers
                            .iter()
                            .any(|(k, v)| k == label && *v == format!("__var_{label}__"))
                    };
                    let filtered = (m("job") && m("instance")) || (m("namespace") && m("pod"));
                    if !filtered {
                        bad(format!(
                            "panel {title:?}: {} not filtered by the variables",
                            u.name
                        ));
                    }
                    if is_counter_sample(&u.name)
                        && !(u.in_counter_function && u.range == Some(RATE_INTERVAL))
                    {
                        bad(format!(
                            "panel {title:?}: counter {} outside rate/irate/increase over $__rate_interval",
                            u.name
                        ));
                    }
                    if !is_counter_sample(&u.name) && u.in_counter_function {
                        bad(format!("panel {title:?}: rate of the gauge {}", u.name));
                    }
                    if !known.contains(&u.name) && !is_external(&u.name) {
                        bad(format!("panel {title:?}: {} is in no golden file", u.name));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Grafana's dashboard JSON schema (a strict one: no unknown keys) accepts every file. The
/// schema is kept beside the project (see `corpus::schema`); without it the check says it
/// is skipped.
#[test]
fn grafana_schema_accepts_every_dashboard() {
    let root = workspace_root();
    let Some(schema) = e2e_tests::corpus::schema(
        "grafana-dashboard.schema.json",
        "grafana_schema_accepts_every_dashboard",
    ) else {
        return;
    };
    let files: Vec<PathBuf> = dashboards(&root).into_iter().map(|(p, _)| p).collect();
    let out = Command::new(root.join(".venv/bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(&schema)
        .args(&files)
        .output()
        .expect("check-jsonschema; run scripts/install-deps.sh");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lint catches what it is for (a check that cannot fail is no check).
#[test]
fn the_lint_rules_fire_on_bad_queries() {
    let e = parse(&substituted(
        r#"sum(postfix_deliveries_total{job=~"$job", instance=~"$instance"})"#,
    ))
    .unwrap();
    let u = uses(&e);
    assert!(is_counter_sample(&u[0].name) && !u[0].in_counter_function);
    let e = parse(&substituted(
        r#"rate(postfix_deliveries_total{job=~"$job", instance=~"$instance"}[5m])"#,
    ))
    .unwrap();
    let u = uses(&e);
    assert!(u[0].in_counter_function && u[0].range != Some(RATE_INTERVAL));
    let e = parse(&substituted(
        r#"rate(postfix_deliveries_total{job=~"$job", instance=~"$instance"}[$__rate_interval])"#,
    ))
    .unwrap();
    assert_eq!(uses(&e)[0].range, Some(RATE_INTERVAL));
    let e = parse(&substituted("max(postfix_up)")).unwrap();
    assert!(uses(&e)[0].matchers.is_empty());
}
