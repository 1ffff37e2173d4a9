//! The README's first command as the tests run it: `scripts/demo.sh --check` starts the whole
//! stack, runs traffic for a bounded time, verifies that every exporter's data reached
//! VictoriaMetrics and that vmalert evaluates every rule, stops everything and exits 0; and
//! on a running demo the example queries it prints return data, and Ctrl-C (SIGINT to the
//! demo's process group, as a terminal sends it) stops it with nothing left running or
//! listening.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::net::tcp_listening;
use e2e_tests::query::query;
use e2e_tests::{exporter_binary, temp_dir, workspace_root};

/// The demo's default ports (scripts/demo.sh).
const PORTS: &[u16] = &[
    9154, 9166, 10143, 10110, 10024, 9901, 9162, 9126, 2121, 8428, 8429, 8880, 9093, 2525, 10025,
    2528, 9899, 9090, 2526, 2527,
];

fn demo(root: &Path, args: &[&str], out: &Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts/demo.sh"))
        .args(args)
        .env(
            "DEMO_EXPORTER_BIN",
            exporter_binary("postfix-exporter").unwrap(),
        )
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out.join("demo.out")).unwrap())
        .stderr(std::fs::File::create(out.join("demo.err")).unwrap())
        // Its own process group, so that SIGINT reaches it the way Ctrl-C does.
        .process_group(0);
    for b in ["dovecot-exporter", "proftpd-exporter", "mailprobe-exporter"] {
        exporter_binary(b).unwrap();
    }
    cmd
}

/// Processes whose command line names the demo's state directory.
fn leftovers(root: &Path) -> Vec<String> {
    let needle = root.join(".demo").display().to_string();
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&needle) {
                found.push(format!("{pid}: {cmdline}"));
            }
        }
    }
    found
}

fn assert_nothing_left(root: &Path, err: &str) {
    let listening: Vec<u16> = PORTS
        .iter()
        .copied()
        .filter(|p| tcp_listening(*p))
        .collect();
    assert!(
        listening.is_empty(),
        "still listening: {listening:?}\n{err}"
    );
    let left = leftovers(root);
    assert!(left.is_empty(), "still running: {left:#?}\n{err}");
    assert!(err.contains("stopped, nothing left listening"), "{err}");
}

#[test]
fn demo_check_verifies_every_exporter_and_ctrl_c_stops_everything() {
    let root = workspace_root();
    let out = temp_dir("demo-check-").unwrap();

    // --check: bounded, verified, stopped.
    let status = demo(&root, &["--check", "45"], out.path())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(out.path().join("demo.err")).unwrap();
    assert!(status.success(), "{status}\n{err}");
    for n in 1..=11 {
        assert!(
            err.contains(&format!("[demo] ({n}/11) ")),
            "progress {n}: {err}"
        );
    }
    for exporter in [
        "postfix-exporter",
        "dovecot-exporter",
        "proftpd-exporter",
        "mailprobe-exporter",
        "vmalert",
    ] {
        assert!(
            err.contains(&format!("check ok    {exporter}")),
            "{exporter}: {err}"
        );
    }
    assert!(!err.contains("check FAIL"), "{err}");
    assert!(err.contains("[demo] check passed"), "{err}");
    assert_nothing_left(&root, &err);

    // Ctrl-C on a running demo.
    let mut child = demo(&root, &[], out.path()).spawn().unwrap();
    let started = Instant::now();
    let out_file = out.path().join("demo.out");
    while !std::fs::read_to_string(&out_file)
        .unwrap_or_default()
        .contains("Stop with Ctrl-C")
    {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the demo did not start: {}",
            std::fs::read_to_string(out.path().join("demo.err")).unwrap_or_default()
        );
        assert!(child.try_wait().unwrap().is_none(), "the demo exited early");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Everything it printed is there to look at.
    let banner = std::fs::read_to_string(&out_file).unwrap();
    for url in [
        "http://127.0.0.1:9154/metrics",
        "http://127.0.0.1:8428/api/v1/query?query=",
        "http://127.0.0.1:8880/api/v1/alerts",
        "http://127.0.0.1:9090/consoles/index.html",
    ] {
        assert!(banner.contains(url), "{url}: {banner}");
    }
    assert!(tcp_listening(8428) && tcp_listening(9154));
    // The example queries it prints return data once the traffic has run a little.
    let examples: Vec<&str> = banner
        .lines()
        .filter_map(|l| l.split("--data-urlencode 'query=").nth(1))
        .filter_map(|q| q.strip_suffix('\''))
        .collect();
    assert_eq!(examples.len(), 4, "{banner}");
    let mut empty = examples.clone();
    while !empty.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no data for {empty:?}"
        );
        std::thread::sleep(Duration::from_secs(2));
        empty.retain(|q| query("http://127.0.0.1:8428", q).map_or(true, |r| r.is_empty()));
    }
    let pgid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", "--", &format!("-{pgid}")])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(out.path().join("demo.err")).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert_nothing_left(&root, &err);
}
