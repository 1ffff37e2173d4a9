//! Process metrics read from the real /proc (own process and spawned children) and from a
//! synthetic procfs tree with exact values.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::process::{ProcessArgs, ProcessCollector};
use prometheus_client::registry::Registry;

/// The OpenMetrics text of one collection, through the exporters' one exposition path.
fn expose(c: &ProcessCollector) -> String {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(c.collect().into_collector()));
    common::expose::encode(&[&reg])
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn args(watch: &[&str], root: &Path) -> ProcessArgs {
    ProcessArgs {
        watch: watch.iter().map(|s| s.to_string()).collect(),
        procfs: root.to_path_buf(),
    }
}

#[test]
fn own_process_metrics_are_sane() {
    let c = ProcessCollector::new(&ProcessArgs::default()).unwrap();
    let m = c.collect();
    let threads = m.value("process_threads", &[]).unwrap();
    assert!(threads >= 1.0, "{threads}");
    let rss = m.value("process_resident_memory_bytes", &[]).unwrap();
    assert!(rss > 1024.0 * 1024.0, "{rss}");
    let vsz = m.value("process_virtual_memory_bytes", &[]).unwrap();
    assert!(vsz >= rss, "{vsz} < {rss}");
    let fds = m.value("process_open_fds", &[]).unwrap();
    assert!(fds >= 3.0, "{fds}");
    let max = m.value("process_max_fds", &[]).unwrap();
    assert!(max >= fds, "{max}");
    let start = m.value("process_start_time_seconds", &[]).unwrap();
    let t = now();
    // btime has whole-second resolution, so allow one second of slack above now.
    assert!(
        start <= t + 1.0 && start > t - 3600.0,
        "start {start} now {t}"
    );
    let cpu = m.value("process_cpu_seconds", &[]).unwrap();
    assert!((0.0..1e6).contains(&cpu), "{cpu}");
    // No watches configured: no watched families at all.
    assert_eq!(m.sample_count("process_watched_processes"), 0);
}

struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn watched_children_are_counted() {
    // A distinctive argument so that nothing else on the machine matches.
    let arg = format!("300.{}", std::process::id());
    let kids = Kids(
        (0..2)
            .map(|_| Command::new("sleep").arg(&arg).spawn().unwrap())
            .collect(),
    );
    let pattern = format!("sleeper=^sleep {}$", regex_escape(&arg));
    let c = ProcessCollector::new(&args(
        &[
            &pattern,
            "sleepcomm=^sleep$",
            "nothing=^no-such-process-anywhere-\\d+$",
        ],
        Path::new("/proc"),
    ))
    .unwrap();
    let l = [("name", "sleeper")];
    // Between fork and exec a child still shows the test binary's command line, so wait
    // until both have become `sleep`.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m = c.collect();
        if m.value("process_watched_processes", &l) == Some(2.0)
            || std::time::Instant::now() > deadline
        {
            break m;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(m.value("process_watched_processes", &l), Some(2.0));
    let cpu = m.value("process_watched_cpu_seconds", &l).unwrap();
    assert!(cpu >= 0.0, "{cpu}");
    let rss = m
        .value("process_watched_resident_memory_bytes", &l)
        .unwrap();
    assert!(rss > 0.0, "{rss}");
    let fds = m.value("process_watched_open_fds", &l).unwrap();
    assert!(fds >= 2.0, "{fds}");
    let oldest = m
        .value("process_watched_oldest_start_time_seconds", &l)
        .unwrap();
    let t = now();
    assert!(
        oldest <= t + 1.0 && oldest > t - 600.0,
        "oldest {oldest} now {t}"
    );
    // comm match: at least our two sleeps (others may run on a shared machine).
    assert!(
        m.value("process_watched_processes", &[("name", "sleepcomm")])
            .unwrap()
            >= 2.0
    );
    let none = [("name", "nothing")];
    assert_eq!(m.value("process_watched_processes", &none), Some(0.0));
    assert_eq!(m.value("process_watched_cpu_seconds", &none), Some(0.0));
    assert_eq!(
        m.value("process_watched_oldest_start_time_seconds", &none),
        None
    );
    let t0 = std::time::Instant::now();
    let _ = c.collect();
    eprintln!(
        "one collection with 3 watches over /proc: {:?} ({} pids)",
        t0.elapsed(),
        std::fs::read_dir("/proc")
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .parse::<u32>()
                .is_ok())
            .count()
    );
    drop(kids);

    // After the children are gone the count drops to 0 (zombies were reaped by wait()).
    let m = c.collect();
    assert_eq!(m.value("process_watched_processes", &l), Some(0.0));
}

fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

#[test]
fn registry_output_has_the_contract_names() {
    let c =
        ProcessCollector::new(&args(&["none=^no-such-process-xyz$"], Path::new("/proc"))).unwrap();
    let out = expose(&c);
    for want in [
        "# TYPE process_cpu_seconds counter\n",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_virtual_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
        "process_threads ",
        "process_watched_processes{name=\"none\"} 0.0\n",
        "process_watched_cpu_seconds_total{name=\"none\"} 0.0\n",
        "process_watched_resident_memory_bytes{name=\"none\"} 0.0\n",
        "process_watched_open_fds{name=\"none\"} 0.0\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    assert!(
        !out.contains("process_watched_oldest_start_time_seconds{"),
        "{out}"
    );
}

#[test]
fn bad_flags_are_errors_naming_the_flag() {
    let e = format!(
        "{:#}",
        ProcessCollector::new(&args(&["postfix=(unclosed"], Path::new("/proc"))).unwrap_err()
    );
    assert!(e.contains("--process.watch \"postfix=(unclosed\""), "{e}");
    let e = format!(
        "{:#}",
        ProcessCollector::new(&args(&["postfix"], Path::new("/proc"))).unwrap_err()
    );
    assert!(
        e.contains("--process.watch \"postfix\": expected NAME=REGEX"),
        "{e}"
    );
}

#[test]
fn flags_parse_with_clap() {
    use clap::Parser;
    #[derive(Parser)]
    struct A {
        #[command(flatten)]
        p: ProcessArgs,
    }
    let a = A::try_parse_from([
        "x",
        "--process.watch",
        "master=^master$",
        "--process.watch=qmgr=qmgr",
        "--path.procfs",
        "/host/proc",
    ])
    .unwrap();
    assert_eq!(a.p.watch, vec!["master=^master$", "qmgr=qmgr"]);
    assert_eq!(a.p.procfs, PathBuf::from("/host/proc"));
    let a = A::try_parse_from(["x"]).unwrap();
    assert!(a.p.watch.is_empty());
    assert_eq!(a.p.procfs, PathBuf::from("/proc"));
}

/// A `/proc/<pid>/stat` line with the given fields (the rest are plausible constants).
fn stat_line(
    pid: u32,
    comm: &str,
    utime: u64,
    stime: u64,
    threads: u32,
    start: u64,
    rss: u64,
) -> String {
    format!(
        "{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 {utime} {stime} 0 0 20 0 {threads} 0 {start} 10485760 {rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
}

fn fake_proc(
    root: &Path,
    pid: u32,
    comm: &str,
    cmdline: &[&str],
    t: (u64, u64, u64, u64),
    fds: usize,
) {
    let d = root.join(pid.to_string());
    std::fs::create_dir_all(d.join("fd")).unwrap();
    std::fs::write(d.join("stat"), stat_line(pid, comm, t.0, t.1, 1, t.2, t.3)).unwrap();
    let mut cl = Vec::new();
    for a in cmdline {
        cl.extend_from_slice(a.as_bytes());
        cl.push(0);
    }
    std::fs::write(d.join("cmdline"), cl).unwrap();
    for i in 0..fds {
        std::fs::write(d.join("fd").join(i.to_string()), "").unwrap();
    }
}

#[test]
fn synthetic_procfs_gives_exact_sums() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(
        root.join("stat"),
        "cpu  1 2 3 4\nbtime 1700000000\nprocesses 9\n",
    )
    .unwrap();
    let tps = procfs::ticks_per_second();
    // master: 2 s user, 1 s system, started 50 s after boot, 300 pages.
    fake_proc(
        root,
        100,
        "master",
        &["/usr/lib/postfix/sbin/master", "-w"],
        (2 * tps, tps, 50 * tps, 300),
        7,
    );
    // qmgr and pickup belong to "postfix" through their command line, not their comm.
    fake_proc(
        root,
        200,
        "qmgr",
        &["qmgr", "-l", "-t", "unix", "-u"],
        (tps, 0, 70 * tps, 100),
        5,
    );
    fake_proc(
        root,
        300,
        "pickup",
        &["pickup", "-l", "-t", "unix", "-u", "-c"],
        (0, tps / 2, 60 * tps, 50),
        4,
    );
    // A kernel thread: empty command line, only comm can match.
    fake_proc(root, 2, "kthreadd", &[], (0, 0, 0, 0), 0);
    // Junk that must be ignored: a non-numeric entry and a pid directory without files.
    std::fs::create_dir_all(root.join("self")).unwrap();
    std::fs::create_dir_all(root.join("999")).unwrap();

    let c = ProcessCollector::new(&args(
        &[
            "master=^master$",
            "postfix=-t unix",
            "kernel=^kthreadd$",
            "none=^nothing$",
        ],
        root,
    ))
    .unwrap();
    let m = c.collect();
    let page = procfs::page_size() as f64;
    let v = |metric: &str, name: &str| m.value(metric, &[("name", name)]);

    assert_eq!(v("process_watched_processes", "master"), Some(1.0));
    assert_eq!(v("process_watched_cpu_seconds", "master"), Some(3.0));
    assert_eq!(
        v("process_watched_resident_memory_bytes", "master"),
        Some(300.0 * page)
    );
    assert_eq!(v("process_watched_open_fds", "master"), Some(7.0));
    assert_eq!(
        v("process_watched_oldest_start_time_seconds", "master"),
        Some(1_700_000_050.0)
    );

    assert_eq!(v("process_watched_processes", "postfix"), Some(2.0));
    assert_eq!(
        v("process_watched_cpu_seconds", "postfix"),
        Some(1.0 + (tps / 2) as f64 / tps as f64)
    );
    assert_eq!(
        v("process_watched_resident_memory_bytes", "postfix"),
        Some(150.0 * page)
    );
    assert_eq!(v("process_watched_open_fds", "postfix"), Some(9.0));
    assert_eq!(
        v("process_watched_oldest_start_time_seconds", "postfix"),
        Some(1_700_000_060.0)
    );

    assert_eq!(v("process_watched_processes", "kernel"), Some(1.0));
    assert_eq!(v("process_watched_processes", "none"), Some(0.0));
    assert_eq!(v("process_watched_oldest_start_time_seconds", "none"), None);

    // An unreadable fd directory (here: missing) makes the fd sum unknown, not partial.
    std::fs::remove_dir_all(root.join("200").join("fd")).unwrap();
    let m = c.collect();
    assert_eq!(
        m.value("process_watched_open_fds", &[("name", "postfix")]),
        None
    );
    assert_eq!(
        m.value("process_watched_open_fds", &[("name", "master")]),
        Some(7.0)
    );
    assert_eq!(
        m.value("process_watched_processes", &[("name", "postfix")]),
        Some(2.0)
    );
}

#[test]
fn missing_procfs_root_reports_zero_not_failure() {
    let c = ProcessCollector::new(&args(&["x=y"], Path::new("/nonexistent/proc"))).unwrap();
    let t0 = std::time::Instant::now();
    let m = c.collect();
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert_eq!(
        m.value("process_watched_processes", &[("name", "x")]),
        Some(0.0)
    );
    // Own metrics still come from the real /proc/self.
    assert!(m.value("process_threads", &[]).unwrap() >= 1.0);
}

#[test]
fn pid_file_watch_counts_only_that_process() {
    // Two identical processes: a regex cannot tell them apart, the pid file can (this is
    // how one Postfix instance's master is watched among several on a host).
    let mut a = Command::new("sleep").arg("30").spawn().unwrap();
    let mut b = Command::new("sleep").arg("30").spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("master.pid");
    // Postfix writes the pid right-aligned in 10 columns.
    std::fs::write(&pidfile, format!("{:>10}\n", a.id())).unwrap();
    let spec = format!("one=pidfile:{}", pidfile.display());
    let both = "both=^sleep$".to_string();
    let c = ProcessCollector::new(&args(&[&spec, &both], Path::new("/proc"))).unwrap();
    let m = c.collect();
    assert_eq!(
        m.value("process_watched_processes", &[("name", "one")]),
        Some(1.0)
    );
    assert!(
        m.value("process_watched_processes", &[("name", "both")])
            .unwrap()
            >= 2.0
    );
    assert!(
        m.value(
            "process_watched_oldest_start_time_seconds",
            &[("name", "one")]
        )
        .is_some()
    );
    // The daemon restarts with a new pid: the file is re-read at every collection.
    std::fs::write(&pidfile, format!("{}\n", b.id())).unwrap();
    a.kill().unwrap();
    a.wait().unwrap();
    assert_eq!(
        c.collect()
            .value("process_watched_processes", &[("name", "one")]),
        Some(1.0)
    );
    // No pid file (daemon stopped): zero, not an error.
    std::fs::remove_file(&pidfile).unwrap();
    assert_eq!(
        c.collect()
            .value("process_watched_processes", &[("name", "one")]),
        Some(0.0)
    );
    b.kill().unwrap();
    b.wait().unwrap();
}
