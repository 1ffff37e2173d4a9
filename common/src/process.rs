//! Process metrics from procfs: the exporter's own `process_*` and watched processes.
//!
//! Own metrics use client_golang's names (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
//! `process_max_fds`, `process_start_time_seconds`) plus `process_threads`, and always come
//! from `/proc/self`: they describe this process, whatever `--path.procfs` says.
//!
//! Each `--process.watch NAME=REGEX` adds, with label `name="NAME"`:
//!
//! | metric | type | meaning |
//! | --- | --- | --- |
//! | `process_watched_processes` | gauge | matching processes; always emitted, 0 when none |
//! | `process_watched_cpu_seconds_total` | counter | user + system CPU of the matching processes (drops when one exits) |
//! | `process_watched_resident_memory_bytes` | gauge | summed resident memory |
//! | `process_watched_open_fds` | gauge | summed open file descriptors; **absent** when the fd directory of any match is unreadable (a partial sum would mislead) |
//! | `process_watched_oldest_start_time_seconds` | gauge | start time of the oldest match; **absent** when nothing matches |
//!
//! REGEX is unanchored and tried against the process name (`comm`, at most 15 bytes) and
//! against the full command line joined with spaces; either match counts. The exporter
//! itself is never counted, as its own command line contains the pattern. Processes that
//! vanish or cannot be read during a scrape are skipped (debug log); a failed read of the
//! exporter's own metrics leaves that metric out instead of failing the scrape.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use regex::Regex;

use crate::metricset::{MetricSet, labels};

/// Flags of the process collector, flattened into each exporter's arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ProcessArgs {
    /// Watch processes whose name or command line matches REGEX, or the process whose pid is in a pid file (NAME=pidfile:PATH), reported with label name=NAME (repeatable).
    #[arg(long = "process.watch", value_name = "NAME=REGEX|NAME=pidfile:PATH", action = clap::ArgAction::Append)]
    pub watch: Vec<String>,
    /// Mount point of the procfs holding the watched processes (e.g. the host's /proc).
    #[arg(long = "path.procfs", default_value = "/proc")]
    pub procfs: PathBuf,
}

impl Default for ProcessArgs {
    fn default() -> Self {
        Self {
            watch: Vec::new(),
            procfs: PathBuf::from("/proc"),
        }
    }
}

/// How a `--process.watch` entry picks its processes.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Pattern tried against `comm` and the space-joined command line.
    Regex(Regex),
    /// The one process whose pid the file holds (re-read at every scrape, so a restart
    /// is followed): scopes a watch to one instance of a daemon, e.g. Postfix's
    /// `$queue_directory/pid/master.pid`.
    PidFile(PathBuf),
}

/// One `--process.watch` entry.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Value of the `name` label.
    pub name: String,
    /// Which processes count.
    pub matcher: Matcher,
}

/// Parses `NAME=REGEX` or `NAME=pidfile:PATH`; errors name the flag and the value.
pub fn parse_watch(spec: &str) -> anyhow::Result<Watch> {
    let Some((name, re)) = spec.split_once('=') else {
        bail!("--process.watch {spec:?}: expected NAME=REGEX or NAME=pidfile:PATH");
    };
    let name = name.trim();
    if name.is_empty() {
        bail!("--process.watch {spec:?}: NAME is empty");
    }
    if re.is_empty() {
        bail!("--process.watch {spec:?}: REGEX is empty");
    }
    let matcher = match re.strip_prefix("pidfile:") {
        Some("") => bail!("--process.watch {spec:?}: the pid file path is empty"),
        Some(path) => Matcher::PidFile(PathBuf::from(path)),
        None => Matcher::Regex(
            Regex::new(re).with_context(|| format!("--process.watch {spec:?}: invalid regex"))?,
        ),
    };
    Ok(Watch {
        name: name.to_string(),
        matcher,
    })
}

/// The command line of every process under procfs `root` but this one, as `(pid, text)`
/// with the arguments joined by spaces: what `ps -o args` shows, so a daemon's process
/// title (Dovecot's `dovecot/imap-login [3 connections]`) reads as it set it. Processes
/// that vanish while listed, and kernel threads (empty command lines), are left out.
pub fn command_lines(root: &Path) -> std::io::Result<Vec<(u32, String)>> {
    let own = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root)?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        // A process that rewrote its title may leave NULs or padding after it.
        let text: String = String::from_utf8_lossy(&raw)
            .split('\0')
            .filter(|a| !a.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let text = text.trim_end().to_string();
        if !text.is_empty() {
            out.push((pid, text));
        }
    }
    out.sort_unstable_by_key(|(pid, _)| *pid);
    Ok(out)
}

/// The parent of process `pid` under procfs `root`, from its `stat` (the fields after the
/// last `)`, as the name in parentheses may hold anything); `None` when it is gone.
pub fn parent_pid(root: &Path, pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(root.join(pid.to_string()).join("stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // ` S 1234 …`: the state, then the parent.
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Reads a pid file (Postfix pads the number with spaces); `None` when absent or invalid.
fn read_pid_file(path: &Path) -> Option<u32> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let pid = text.trim().parse::<u32>().ok().filter(|p| *p > 0);
            if pid.is_none() {
                tracing::debug!(path = %path.display(), "pid file holds no pid");
            }
            pid
        }
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "cannot read pid file");
            None
        }
    }
}

/// Process metrics: the exporter's own and the watched processes'. Reading procfs can
/// block, so the runner calls [`ProcessCollector::collect`] off the async workers and
/// under the scrape timeout, never inside encoding.
#[derive(Debug)]
pub struct ProcessCollector {
    root: PathBuf,
    watches: Vec<Watch>,
    // btime in /proc/stat is recomputed by the kernel from uptime and can wobble by a
    // second; reading it once keeps start times stable between scrapes.
    btime_self: Mutex<Option<u64>>,
    btime_root: Mutex<Option<u64>>,
}

impl ProcessCollector {
    /// Builds the collector from the flags.
    pub fn new(args: &ProcessArgs) -> anyhow::Result<Self> {
        let watches = args
            .watch
            .iter()
            .map(|s| parse_watch(s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut seen = std::collections::HashSet::new();
        for w in &watches {
            if !seen.insert(w.name.as_str()) {
                bail!("--process.watch: NAME {:?} is given more than once", w.name);
            }
        }
        Ok(Self {
            root: args.procfs.clone(),
            watches,
            btime_self: Mutex::new(None),
            btime_root: Mutex::new(None),
        })
    }

    /// Reads procfs now and returns the metrics (also used by tests).
    pub fn collect(&self) -> MetricSet {
        let mut set = MetricSet::new();
        self.collect_self(&mut set);
        self.collect_watched(&mut set);
        set
    }

    fn collect_self(&self, set: &mut MetricSet) {
        let tps = procfs::ticks_per_second() as f64;
        let page = procfs::page_size();
        let me = match procfs::process::Process::myself() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open /proc/self; own process metrics left out");
                return;
            }
        };
        match me.stat() {
            Ok(st) => {
                set.counter(
                    "process_cpu_seconds",
                    "Total user and system CPU time spent in seconds.",
                    vec![],
                    (st.utime + st.stime) as f64 / tps,
                );
                set.gauge(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                    vec![],
                    st.rss.saturating_mul(page) as f64,
                );
                set.gauge(
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                    vec![],
                    st.vsize as f64,
                );
                if let Some(bt) = cached_btime(&self.btime_self, Path::new("/proc")) {
                    set.gauge(
                        "process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.",
                        vec![],
                        bt as f64 + st.starttime as f64 / tps,
                    );
                }
                set.gauge(
                    "process_threads",
                    "Number of OS threads in the process.",
                    vec![],
                    st.num_threads as f64,
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot read /proc/self/stat"),
        }
        match count_fds(Path::new("/proc/self/fd")) {
            Ok(n) => set.gauge(
                "process_open_fds",
                "Number of open file descriptors.",
                vec![],
                n as f64,
            ),
            Err(e) => tracing::warn!(error = %e, "cannot read /proc/self/fd"),
        }
        match me.limits() {
            Ok(l) => {
                let v = match l.max_open_files.soft_limit {
                    procfs::process::LimitValue::Value(v) => v as f64,
                    procfs::process::LimitValue::Unlimited => f64::INFINITY,
                };
                set.gauge(
                    "process_max_fds",
                    "Maximum number of open file descriptors.",
                    vec![],
                    v,
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot read /proc/self/limits"),
        }
    }

    fn collect_watched(&self, set: &mut MetricSet) {
        if self.watches.is_empty() {
            return;
        }
        let tps = procfs::ticks_per_second() as f64;
        let page = procfs::page_size();
        let mut acc: Vec<Acc> = self.watches.iter().map(|_| Acc::default()).collect();
        let pids: Vec<Option<u32>> = self
            .watches
            .iter()
            .map(|w| match &w.matcher {
                Matcher::PidFile(p) => read_pid_file(p),
                Matcher::Regex(_) => None,
            })
            .collect();
        let own = std::process::id();
        match std::fs::read_dir(&self.root) {
            Ok(dir) => {
                for entry in dir.flatten() {
                    let fname = entry.file_name();
                    let Some(pid) = fname.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                        continue;
                    };
                    if pid == own {
                        continue;
                    }
                    self.visit(&entry.path(), pid, &pids, &mut acc);
                }
            }
            Err(e) => {
                tracing::warn!(path = %self.root.display(), error = %e, "cannot list procfs; watched process metrics report no processes");
            }
        }
        let btime = cached_btime(&self.btime_root, &self.root);
        for (w, a) in self.watches.iter().zip(acc) {
            let l = labels(&[("name", w.name.as_str())]);
            set.gauge(
                "process_watched_processes",
                "Number of processes matching --process.watch NAME=REGEX.",
                l.clone(),
                a.count as f64,
            );
            set.counter(
                "process_watched_cpu_seconds",
                "User and system CPU time of the watched processes, in seconds.",
                l.clone(),
                a.ticks as f64 / tps,
            );
            set.gauge(
                "process_watched_resident_memory_bytes",
                "Summed resident memory of the watched processes.",
                l.clone(),
                a.rss_pages.saturating_mul(page) as f64,
            );
            if !a.fds_unknown {
                set.gauge(
                    "process_watched_open_fds",
                    "Summed open file descriptors of the watched processes.",
                    l.clone(),
                    a.fds as f64,
                );
            }
            if let (Some(start), Some(bt)) = (a.oldest_start, btime) {
                set.gauge(
                    "process_watched_oldest_start_time_seconds",
                    "Start time of the oldest watched process since unix epoch in seconds.",
                    l,
                    bt as f64 + start as f64 / tps,
                );
            }
        }
    }

    fn visit(&self, dir: &Path, pid: u32, pids: &[Option<u32>], acc: &mut [Acc]) {
        let proc = match procfs::process::Process::new_with_root(dir.to_path_buf()) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(pid, error = %e, "process vanished or unreadable; skipped");
                return;
            }
        };
        let stat = match proc.stat() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(pid, error = %e, "cannot read stat; skipped");
                return;
            }
        };
        // Kernel threads and zombies have an empty command line; comm still matches.
        let cmdline = proc.cmdline().map(|v| v.join(" ")).unwrap_or_default();
        let mut fds: Option<Option<usize>> = None;
        for ((w, a), want_pid) in self.watches.iter().zip(acc.iter_mut()).zip(pids) {
            let hit = match &w.matcher {
                Matcher::Regex(re) => {
                    re.is_match(&stat.comm) || (!cmdline.is_empty() && re.is_match(&cmdline))
                }
                Matcher::PidFile(_) => *want_pid == Some(pid),
            };
            if !hit {
                continue;
            }
            a.count += 1;
            a.ticks = a
                .ticks
                .saturating_add(stat.utime.saturating_add(stat.stime));
            a.rss_pages = a.rss_pages.saturating_add(stat.rss);
            a.oldest_start = Some(
                a.oldest_start
                    .map_or(stat.starttime, |o| o.min(stat.starttime)),
            );
            let n = *fds.get_or_insert_with(|| match count_fds(&dir.join("fd")) {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::debug!(pid, error = %e, "cannot count fds");
                    None
                }
            });
            match n {
                Some(n) => a.fds += n as u64,
                None => a.fds_unknown = true,
            }
        }
    }
}

#[derive(Debug, Default)]
struct Acc {
    count: u64,
    ticks: u64,
    rss_pages: u64,
    fds: u64,
    fds_unknown: bool,
    oldest_start: Option<u64>,
}

/// Entries of a `/proc/<pid>/fd` directory.
fn count_fds(dir: &Path) -> std::io::Result<usize> {
    Ok(std::fs::read_dir(dir)?.count())
}

fn cached_btime(cache: &Mutex<Option<u64>>, root: &Path) -> Option<u64> {
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if c.is_none() {
        match read_btime(&root.join("stat")) {
            Ok(b) => *c = Some(b),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read boot time; start times left out")
            }
        }
    }
    *c
}

/// Boot time (seconds since the epoch) from the `btime` line of a procfs `stat` file.
pub fn read_btime(path: &Path) -> anyhow::Result<u64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_btime(&text).with_context(|| format!("{}: no valid btime line", path.display()))
}

fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_read_titles_from_a_procfs_tree() {
        let dir = tempfile::tempdir().unwrap();
        let put = |pid: &str, cmdline: &[u8]| {
            let d = dir.path().join(pid);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cmdline"), cmdline).unwrap();
        };
        put("12", b"dovecot/imap-login [127.0.0.1 pre-login]\0\0\0   ");
        put("7", b"/usr/sbin/dovecot\0-c\0/etc/dovecot/dovecot.conf\0");
        put("9", b"");
        put("self", b"x");
        std::fs::create_dir_all(dir.path().join("13")).unwrap();
        let got = command_lines(dir.path()).unwrap();
        assert_eq!(
            got,
            [
                (
                    7,
                    "/usr/sbin/dovecot -c /etc/dovecot/dovecot.conf".to_string()
                ),
                (12, "dovecot/imap-login [127.0.0.1 pre-login]".to_string()),
            ]
        );
        assert!(command_lines(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn parent_pids_from_stat() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("42");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("stat"), "42 (odd) name)) S 7 42 42 0 -1").unwrap();
        assert_eq!(parent_pid(dir.path(), 42), Some(7));
        assert_eq!(parent_pid(dir.path(), 43), None);
        assert_eq!(
            parent_pid(Path::new("/proc"), std::process::id()),
            Some(std::os::unix::process::parent_id())
        );
    }

    #[test]
    fn watch_specs() {
        let w = parse_watch("master=^/usr/lib/postfix/sbin/master( |$)").unwrap();
        assert_eq!(w.name, "master");
        let re = |w: &Watch| match &w.matcher {
            Matcher::Regex(r) => r.clone(),
            Matcher::PidFile(p) => panic!("pid file {p:?}"),
        };
        assert!(re(&w).is_match("/usr/lib/postfix/sbin/master -w"));
        // Only the first '=' separates; the regex may contain more.
        let w = parse_watch("x=a=b").unwrap();
        assert_eq!(re(&w).as_str(), "a=b");
        let w = parse_watch("postfix-out=pidfile:/var/spool/postfix-out/pid/master.pid").unwrap();
        assert!(
            matches!(&w.matcher, Matcher::PidFile(p) if p == Path::new("/var/spool/postfix-out/pid/master.pid"))
        );
        assert!(parse_watch("x=pidfile:").is_err());
        let e = parse_watch("nameonly").unwrap_err().to_string();
        assert!(
            e.contains("--process.watch \"nameonly\"") && e.contains("NAME=REGEX"),
            "{e}"
        );
        let e = format!("{:#}", parse_watch("bad=(").unwrap_err());
        assert!(
            e.contains("--process.watch \"bad=(\"") && e.contains("invalid regex"),
            "{e}"
        );
        assert!(parse_watch("=x").is_err());
        assert!(parse_watch("x=").is_err());
        let dup = ProcessArgs {
            watch: vec!["a=x".into(), "a=y".into()],
            ..ProcessArgs::default()
        };
        assert!(
            ProcessCollector::new(&dup)
                .unwrap_err()
                .to_string()
                .contains("\"a\"")
        );
    }

    #[test]
    fn btime_parsing() {
        assert_eq!(
            parse_btime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
        assert_eq!(parse_btime("btime x\n"), None);
    }
}
