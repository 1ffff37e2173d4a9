//! The dashboards and alerts against the demo stack: real Postfix, Dovecot and ProFTPd with
//! traffic, the four exporters, vmagent, VictoriaMetrics and vmalert (scripts/demo.sh).
//!
//! * Every query of every dashboard, its variables set to "All", returns data from
//!   VictoriaMetrics.
//! * Prometheus, beside vmagent, serves the console page of each dashboard (a graph per
//!   panel), and every graph's query has data there too.
//! * Headless Chromium, after minutes of traffic, shoots every console page
//!   (scripts/screenshots.sh): each panel drew plotted lines, and the picture holds their
//!   pixels inside the panel's graph.
//! * vmalert loads every rule group of alerts/ without an error.
//! * Two vmagents sharding the demo's scrape config (`-promscrape.cluster.membersCount=2`,
//!   `memberNum` 0 and 1, as a VMAgent with `shardCount: 2` runs them) scrape every target
//!   of the demo's own vmagent exactly once between them: none lost, none twice.
//! * With the rules rendered at test thresholds (5 deferred messages, short `for`), the
//!   deferred queue the traffic fills makes PostfixDeferredQueueHigh fire and reach the
//!   notifier sink; stopping Dovecot makes MailProbeFailing fire for its IMAP probe.
//!
//! The demo listens on its fixed ports (scripts/demo.sh) and lives in `.demo/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::artifacts::alerts::{THRESHOLDS_FILE, read_thresholds, render_dir};
use e2e_tests::artifacts::consoles::console_expr;
use e2e_tests::query::query;
use e2e_tests::screenshot::{Area, Image, parse_colour, read_report};
use e2e_tests::{exporter_binary, temp_dir, workspace_root};
use serde_json::Value;

const VM: &str = "http://127.0.0.1:8428";
const VMALERT: &str = "http://127.0.0.1:8880";
const PROMETHEUS: &str = "http://127.0.0.1:9090";
const VMAGENT: &str = "http://127.0.0.1:8429";

/// The demo, stopped (SIGTERM: it stops everything it started) on drop.
struct Demo {
    child: Child,
    log: PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // The demo's bash traps TERM and stops what it started.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
    }
}

impl Demo {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `(job, instance)` of every active target in a vmagent's `/api/v1/targets`.
fn active_targets(targets: &Value) -> Vec<(String, String)> {
    targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let l = &t["labels"];
            (
                l["job"].as_str().unwrap().to_string(),
                l["instance"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Two vmagent shards on the demo's scrape config, writing to their own VictoriaMetrics
/// with a `shard` label: each of the demo vmagent's targets reaches it from exactly one
/// shard, and both shards have work.
fn sharded_vmagents_split_the_targets(root: &Path, demo: &Demo) {
    use std::collections::{BTreeMap, BTreeSet};
    let all: BTreeSet<(String, String)> = active_targets(
        &serde_json::from_str(
            &e2e_tests::http::get(&format!("{VMAGENT}/api/v1/targets"), &[])
                .unwrap()
                .text(),
        )
        .unwrap(),
    )
    .into_iter()
    .collect();
    assert!(all.len() >= 15, "{all:?}");
    let config = std::fs::read_to_string(root.join(".demo/scrape.yml")).unwrap();
    let vm = e2e_tests::VictoriaMetrics::start().unwrap();
    let shards: Vec<e2e_tests::VmAgent> = (0..2)
        .map(|n| {
            e2e_tests::VmAgent::start_with(
                &config,
                &vm.write_url(),
                &[
                    "-promscrape.cluster.membersCount=2",
                    &format!("-promscrape.cluster.memberNum={n}"),
                    &format!("-remoteWrite.label=shard={n}"),
                ],
            )
            .unwrap()
        })
        .collect();

    // What each shard says it scrapes: disjoint halves of the whole.
    let mine: Vec<BTreeSet<(String, String)>> = shards
        .iter()
        .map(|a| active_targets(&a.targets().unwrap()).into_iter().collect())
        .collect();
    assert!(mine[0].is_disjoint(&mine[1]), "{mine:?}");
    assert_eq!(&mine[0] | &mine[1], all);
    assert!(!mine[0].is_empty() && !mine[1].is_empty(), "{mine:?}");
    eprintln!(
        "vmagent shards: {} + {} of {} targets",
        mine[0].len(),
        mine[1].len(),
        all.len()
    );

    // What arrived: every target's `up` from one shard only.
    let mut stored = BTreeMap::new();
    wait(
        "every target's up from the shards",
        Duration::from_secs(60),
        demo,
        || {
            stored.clear();
            for s in vm.query("up").unwrap_or_default() {
                stored
                    .entry((s.label("job").to_string(), s.label("instance").to_string()))
                    .or_insert_with(BTreeSet::new)
                    .insert(s.label("shard").to_string());
            }
            stored.len() == all.len()
        },
    );
    for (target, from) in &stored {
        assert_eq!(from.len(), 1, "{target:?} scraped by shards {from:?}");
        let n: usize = from.iter().next().unwrap().parse().unwrap();
        assert!(mine[n].contains(target), "{target:?} from shard {n}");
    }
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), all);
}

/// The rule files at test thresholds: small numbers and short waits.
fn test_rules(dir: &Path) -> String {
    let root = workspace_root();
    let mut t = read_thresholds(&root.join("alerts/src").join(THRESHOLDS_FILE)).unwrap();
    for (name, value) in [
        ("postfix_deferred_messages", "5"),
        ("postfix_deferred_growth_window", "3m"),
        ("postfix_deferred_for", "20s"),
        ("probe_failing_for", "20s"),
    ] {
        t.get_mut(name).unwrap().value = serde_norway::Value::String(value.into());
    }
    let (files, _) = render_dir(&root.join("alerts/src"), &t).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    format!("{}/*.yml", dir.display())
}

/// The committed dashboards, (file stem, JSON), by stem.
fn dashboards() -> Vec<(String, Value)> {
    let dir = workspace_root().join("dashboards");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|f| {
            let d = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            (f.file_stem().unwrap().to_string_lossy().into_owned(), d)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// (dashboard file, panel title, query) of every query of `dashboards`.
fn dashboard_queries(dashboards: &[(String, Value)]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (stem, d) in dashboards {
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push((
                    format!("{stem}.json"),
                    p["title"].as_str().unwrap().to_string(),
                    t["expr"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

fn firing(alertname: &str, label: (&str, &str)) -> bool {
    let Ok(r) = e2e_tests::http::get(&format!("{VMALERT}/api/v1/alerts"), &[]) else {
        return false;
    };
    let v: Value = serde_json::from_str(&r.text()).unwrap_or_default();
    v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| {
            a["labels"]["alertname"] == alertname
                && a["state"] == "firing"
                && (label.0.is_empty() || a["labels"][label.0] == label.1)
        })
}

fn wait(what: &str, limit: Duration, demo: &Demo, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("{what}: not within {limit:?}; demo output:\n{}", demo.log());
}

/// The panel titles of a dashboard, rows left out, in order.
fn panel_titles(dashboard: &Value) -> Vec<String> {
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

/// Shoots the console pages of the running demo with headless Chromium, the graphs over
/// `range`, and checks what they show: every panel of the dashboard, each with plotted
/// lines in the DOM and their colours in the picture's graph area.
fn screenshots_hold_data(
    root: &Path,
    dashboards: &[(String, Value)],
    dir: &Path,
    range: Duration,
    demo: &Demo,
) {
    let out = Command::new("bash")
        .arg(root.join("scripts/screenshots.sh"))
        .args(["--running", "--out"])
        .arg(dir)
        .args(["--range", &range.as_secs().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "screenshots.sh: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        demo.log()
    );
    let pages = read_report(dir).unwrap();
    let names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
    let stems: Vec<&str> = dashboards.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, stems);
    for (page, (_, dashboard)) in pages.iter().zip(dashboards) {
        let img = Image::load(&dir.join(&page.png)).unwrap();
        assert_eq!(
            (img.width, img.height),
            (page.width, page.height),
            "{}",
            page.name
        );
        assert!(
            page.complete,
            "{}: not every panel drawn: {page:#?}",
            page.name
        );
        let titles: Vec<&str> = page.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, panel_titles(dashboard), "{}", page.name);
        let mut colours = Vec::new();
        for panel in &page.panels {
            let what = format!("{}: {}", page.name, panel.title);
            assert_eq!(panel.error, "", "{what}");
            let area = panel.area.unwrap_or_else(|| panic!("{what}: no graph"));
            // A line over minutes of the range, not a dot.
            let longest = panel.lines.iter().map(|l| l.points).max().unwrap_or(0);
            assert!(longest >= 10, "{what}: {longest} points: {panel:?}");
            let strokes: Vec<[u8; 3]> = panel
                .lines
                .iter()
                .map(|l| parse_colour(&l.stroke).unwrap_or_else(|| panic!("{what}: {l:?}")))
                .collect();
            // A line at zero or at the maximum is centred on the graph's edge: half of it
            // lies just outside the box.
            let edges = Area {
                y: area.y - 3.0,
                height: area.height + 6.0,
                ..area
            };
            let seen = img.pixels_like(edges, &strokes, 40);
            assert!(seen >= 20, "{what}: {seen} line pixels in {edges:?}");
            colours.extend(strokes);
        }
        // The page's white margin holds none of those colours: the count tells lines apart.
        let margin = Area {
            x: 0.0,
            y: 0.0,
            width: 12.0,
            height: f64::from(page.height),
        };
        assert_eq!(img.pixels_like(margin, &colours, 40), 0, "{}", page.name);
    }
}

#[test]
fn dashboards_show_data_and_alerts_fire_on_the_demo_stack() {
    let root = workspace_root();
    let rules = temp_dir("demo-rules-").unwrap();
    let glob = test_rules(rules.path());
    let out = temp_dir("demo-out-").unwrap();
    let log = out.path().join("demo.log");
    let bin = exporter_binary("postfix-exporter").unwrap();
    for b in ["dovecot-exporter", "proftpd-exporter", "mailprobe-exporter"] {
        exporter_binary(b).unwrap();
    }
    let child = Command::new("bash")
        .arg(root.join("scripts/demo.sh"))
        .env("DEMO_EXPORTER_BIN", &bin)
        .env("DEMO_DURATION", "900")
        .env("DEMO_RULES", &glob)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(out.path().join("demo.err")).unwrap())
        .spawn()
        .unwrap();
    let demo = Demo { child, log };
    wait("the demo running", Duration::from_secs(240), &demo, || {
        demo.log().contains("Stop with Ctrl-C")
    });
    let running = Instant::now();

    // Every dashboard query has data once the traffic has run a little.
    let dashboards = dashboards();
    assert_eq!(dashboards.len(), 5);
    let queries = dashboard_queries(&dashboards);
    assert!(queries.len() >= 80, "{} queries", queries.len());
    let mut empty = Vec::new();
    wait(
        "every dashboard query returning data",
        Duration::from_secs(240),
        &demo,
        || {
            empty = queries
                .iter()
                .filter(|(_, _, e)| query(VM, &console_expr(e)).map_or(true, |r| r.is_empty()))
                .map(|(f, t, e)| format!("{f}: {t}: {e}"))
                .collect();
            empty.is_empty()
        },
    );
    assert!(empty.is_empty(), "{empty:#?}");

    // The console pages: Prometheus serves one per dashboard with a graph per panel, and
    // each graph's query has data in Prometheus, which scrapes the same targets.
    for (f, dashboard) in &dashboards {
        let page = e2e_tests::http::get(&format!("{PROMETHEUS}/consoles/{f}.html"), &[]).unwrap();
        assert_eq!(page.status, 200, "{f}: {}", page.text());
        let graphs = page.text().matches("<div class=\"panel\"").count();
        assert_eq!(graphs, panel_titles(dashboard).len(), "{f}");
    }
    wait(
        "every console query returning data in Prometheus",
        Duration::from_secs(120),
        &demo,
        || {
            empty = queries
                .iter()
                .filter(|(_, _, e)| {
                    query(PROMETHEUS, &console_expr(e)).map_or(true, |r| r.is_empty())
                })
                .map(|(f, t, e)| format!("{f}: {t}: {e}"))
                .collect();
            empty.is_empty()
        },
    );

    // vmalert evaluates every group without an error.
    let rules: Value = serde_json::from_str(
        &e2e_tests::http::get(&format!("{VMALERT}/api/v1/rules"), &[])
            .unwrap()
            .text(),
    )
    .unwrap();
    let groups = rules["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 6, "{rules}");
    for g in groups {
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(r["lastError"].as_str().unwrap_or_default(), "", "{r}");
        }
    }

    // The traffic defers mail on a closed relayhost: the queue alert fires and is sent.
    wait(
        "PostfixDeferredQueueHigh firing",
        Duration::from_secs(300),
        &demo,
        || firing("PostfixDeferredQueueHigh", ("queue", "deferred")),
    );
    let sink = root.join(".demo/logs/alert-sink.log");
    wait(
        "the alert at the notifier",
        Duration::from_secs(60),
        &demo,
        || std::fs::read_to_string(&sink).is_ok_and(|s| s.contains("PostfixDeferredQueueHigh")),
    );

    sharded_vmagents_split_the_targets(&root, &demo);

    // Minutes of traffic later, the pictures: before Dovecot stops, so its panels have lines.
    let minutes = Duration::from_secs(180);
    std::thread::sleep(minutes.saturating_sub(running.elapsed()));
    screenshots_hold_data(
        &root,
        &dashboards,
        &out.path().join("shots"),
        running.elapsed(),
        &demo,
    );

    // Dovecot stopped: its IMAP probe fails and alerts.
    assert!(!firing("MailProbeFailing", ("module", "imap_login")));
    let st = Command::new("doveadm")
        .args([
            "-c",
            &root
                .join(".demo/dovecot/dovecot.conf")
                .display()
                .to_string(),
            "stop",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    wait(
        "MailProbeFailing for imap_login",
        Duration::from_secs(180),
        &demo,
        || firing("MailProbeFailing", ("module", "imap_login")),
    );
}
