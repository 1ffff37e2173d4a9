//! File and FIFO following against real files on disk: rotation by rename and by
//! copytruncate (including many rotations under a concurrent writer), partial and
//! over-long lines, binary garbage, files appearing late and deleted files.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::follow::{FollowHandle, FollowMetrics, FollowOptions, Source, SourceMetrics, spawn};
use common::testing::{CollectLines, recognise_log_prefix};
use e2e_tests::fake::mkfifo;

/// Keeps the lines, and reports foreign text as unsupported the way an exporter's handler does.
fn collect() -> CollectLines {
    CollectLines::new(recognise_log_prefix)
}

const DEADLINE: Duration = Duration::from_secs(20);

fn wait_until(cond: impl FnMut() -> bool) -> bool {
    common::testing::wait_until(DEADLINE, cond)
}

fn opts() -> FollowOptions {
    FollowOptions {
        poll_interval: Duration::from_millis(10),
        ..FollowOptions::default()
    }
}

fn start(source: Source) -> (Arc<CollectLines>, SourceMetrics, FollowHandle) {
    start_with(source, opts())
}

fn start_with(
    source: Source,
    o: FollowOptions,
) -> (Arc<CollectLines>, SourceMetrics, FollowHandle) {
    let c = Arc::new(collect());
    let m = FollowMetrics::new("test", "service").source("test");
    let h = spawn(source, c.clone(), m.clone(), o).unwrap();
    assert!(h.wait_started(DEADLINE));
    (c, m, h)
}

fn file_source(path: &Path, from_beginning: bool) -> Source {
    Source::File {
        path: path.to_path_buf(),
        from_beginning,
    }
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

const LINE1: &str = "Nov 22 23:02:10 mx postfix/smtpd[4242]: connect from localhost[127.0.0.1]";
const LINE2: &str = "Nov 22 23:02:10 mx postfix/smtpd[4242]: 4A1B2C3D: client=localhost[127.0.0.1]";
const LINE3: &str = "Nov 22 23:02:11 mx postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5";

#[test]
fn starts_at_end_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, &format!("{LINE1}\n"));
    let (c, m, h) = start(file_source(&path, false));
    assert_eq!(m.source_up(), 1);
    append(&path, &format!("{LINE2}\nnot a log line\n"));
    assert!(wait_until(|| c.len() == 2), "{:?}", c.lines());
    assert_eq!(c.lines(), [LINE2, "not a log line"]);
    assert_eq!(m.lines_total(), 2);
    assert_eq!(m.unsupported_total("unknown"), 1);
    assert!(m.last_line_read_timestamp() > 1.7e9);
    assert!(h.stop());
    assert_eq!(m.source_up(), 0);
}

#[test]
fn from_beginning_reads_existing_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, &format!("{LINE1}\r\n{LINE2}\n"));
    let (c, m, h) = start(file_source(&path, true));
    append(&path, &format!("{LINE3}\n"));
    assert!(wait_until(|| c.len() == 3));
    assert_eq!(c.lines(), [LINE1, LINE2, LINE3]);
    assert_eq!(m.lines_total(), 3);
    assert!(h.stop());
}

#[test]
fn missing_file_is_waited_for_and_read_from_its_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let (c, m, h) = start(file_source(&path, false));
    assert_eq!(m.source_up(), 0);
    append(&path, &format!("{LINE1}\n{LINE2}\n"));
    assert!(wait_until(|| c.len() == 2));
    assert_eq!(c.lines(), [LINE1, LINE2]);
    assert_eq!(m.source_up(), 1);
    assert_eq!(m.read_errors_total(), 0);
    assert!(h.stop());
}

#[test]
fn rename_rotation_drains_old_file_then_reads_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, "");
    let (c, m, h) = start(file_source(&path, false));
    // A writer still holding the old file keeps appending after the rename.
    let mut old = OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(old, "one").unwrap();
    std::fs::rename(&path, dir.path().join("mail.log.1")).unwrap();
    writeln!(old, "two").unwrap();
    assert!(wait_until(|| c.len() == 2));
    append(&path, "three\nfour\n");
    assert!(wait_until(|| c.len() == 4));
    assert_eq!(c.lines(), ["one", "two", "three", "four"]);
    assert_eq!(m.rotations_total("rename"), 1);
    assert_eq!(m.rotations_total("truncate"), 0);
    assert!(h.stop());
}

#[test]
fn copytruncate_restarts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, "");
    let (c, m, h) = start(file_source(&path, false));
    append(
        &path,
        "first line that is rather long\nsecond line also long\n",
    );
    assert!(wait_until(|| c.len() == 2));
    std::fs::copy(&path, dir.path().join("mail.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert!(wait_until(|| m.rotations_total("truncate") == 1));
    append(&path, "after\n");
    assert!(wait_until(|| c.len() == 3));
    assert_eq!(
        c.lines(),
        [
            "first line that is rather long",
            "second line also long",
            "after"
        ]
    );
    assert_eq!(m.rotations_total("rename"), 0);
    assert!(h.stop());
}

fn numbers(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .map(|l| {
            l.rsplit_once("line=")
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line {l:?}"))
        })
        .collect()
}

fn numbered(i: usize) -> String {
    format!("Nov 22 23:02:10 mx postfix/qmgr[99]: ABCDEF{i:05}: removed line={i}\n")
}

const TOTAL: usize = 20_000;
const EVERY: usize = 1_000;

/// A writer thread writes 20,000 numbered lines, some in two pieces, and rotates
/// by rename every 1,000 lines. It waits for the follower to notice one rotation
/// before doing the next (real rotations are hours apart; two within one poll
/// interval would skip a file, see the module docs), but never waits to write lines.
#[test]
fn many_rename_rotations_under_a_writer_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, "");
    let (c, m, h) = start(file_source(&path, false));
    let writer = {
        let (path, dir, m) = (path.clone(), dir.path().to_path_buf(), m.clone());
        std::thread::spawn(move || {
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            let mut rotations = 0;
            for i in 0..TOTAL {
                let line = numbered(i);
                if i % 7 == 0 {
                    let (a, b) = line.split_at(20);
                    f.write_all(a.as_bytes()).unwrap();
                    f.write_all(b.as_bytes()).unwrap();
                } else {
                    f.write_all(line.as_bytes()).unwrap();
                }
                if i % EVERY == EVERY - 1 {
                    assert!(wait_until(|| m.rotations_total("rename") == rotations));
                    rotations += 1;
                    std::fs::rename(&path, dir.join(format!("mail.log.{rotations}"))).unwrap();
                    // Lines still written to the renamed file before reopening.
                    f.write_all(numbered_suffix(i).as_bytes()).unwrap();
                    f = File::create(&path).unwrap();
                }
            }
            rotations
        })
    };
    let rotations = writer.join().unwrap();
    assert!(wait_until(|| c.len() >= TOTAL + rotations as usize));
    let lines = c.lines();
    let mut seen = numbers(&lines);
    let extra: Vec<usize> = seen.iter().copied().filter(|&n| n >= TOTAL).collect();
    seen.retain(|&n| n < TOTAL);
    assert_eq!(seen, (0..TOTAL).collect::<Vec<_>>());
    assert_eq!(extra.len(), rotations as usize);
    // The last file's lines can all be read before the follower looks at the path and
    // sees the last rename.
    assert!(wait_until(|| m.rotations_total("rename") == rotations));
    assert_eq!(m.lines_total(), (TOTAL + rotations as usize) as u64);
    assert_eq!(m.rotations_total("truncate"), 0);
    assert!(h.stop());
}

/// One more line written to the old file after the rename: number TOTAL + i.
fn numbered_suffix(i: usize) -> String {
    numbered(TOTAL + i)
}

/// Copytruncate has an inherent race (lines written between the copy and the
/// truncation are lost for any reader); a careful writer avoids it by pausing.
/// Here the writer waits until the follower has read every line before copying and
/// truncating, and until the truncation was noticed before writing again.
#[test]
fn many_copytruncate_rotations_lose_nothing_when_the_writer_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, "");
    let (c, m, h) = start(file_source(&path, false));
    let writer = {
        let (path, dir, m, c) = (path.clone(), dir.path().to_path_buf(), m.clone(), c.clone());
        std::thread::spawn(move || {
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            let mut rotations = 0;
            for i in 0..TOTAL {
                f.write_all(numbered(i).as_bytes()).unwrap();
                if i % EVERY == EVERY - 1 {
                    assert!(wait_until(|| c.len() == i + 1));
                    rotations += 1;
                    std::fs::copy(&path, dir.join(format!("mail.log.{rotations}"))).unwrap();
                    f.set_len(0).unwrap();
                    assert!(wait_until(|| m.rotations_total("truncate") == rotations));
                }
            }
            rotations
        })
    };
    let rotations = writer.join().unwrap();
    assert!(wait_until(|| c.len() >= TOTAL));
    assert_eq!(numbers(&c.lines()), (0..TOTAL).collect::<Vec<_>>());
    assert_eq!(m.rotations_total("truncate"), rotations);
    assert_eq!(m.rotations_total("rename"), 0);
    assert_eq!(m.lines_total(), TOTAL as u64);
    assert!(h.stop());
}

#[test]
fn partial_line_written_in_two_chunks_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, "");
    let (c, m, h) = start(file_source(&path, false));
    let (a, b) = LINE3.split_at(30);
    append(&path, a);
    // Give the follower time to read the first half (not an assertion).
    std::thread::sleep(Duration::from_millis(100));
    append(&path, &format!("{b}\n"));
    assert!(wait_until(|| c.len() == 1));
    assert_eq!(c.lines(), [LINE3]);
    assert_eq!(m.unsupported_total("unknown"), 0);
    assert!(h.stop());
}

#[test]
fn ten_megabyte_line_is_cut_and_next_lines_are_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, "");
    let (c, m, h) = start(file_source(&path, false));
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..10 {
        f.write_all(&chunk).unwrap();
    }
    writeln!(f, "\n{LINE1}\n{LINE2}").unwrap();
    assert!(wait_until(|| c.len() == 3));
    let lines = c.lines();
    assert_eq!(lines[0], "x".repeat(64 * 1024));
    assert_eq!(&lines[1..], [LINE1, LINE2]);
    assert_eq!(m.truncated_total(), 1);
    assert_eq!(m.lines_total(), 3);
    assert!(h.stop());
}

#[test]
fn binary_garbage_is_replaced_lossily() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, "");
    let (c, _m, h) = start(file_source(&path, false));
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"\xff\xfe\x00abc\x80\n\n\r\nok \xe2\x82\xac \xe2\x82\n")
        .unwrap();
    assert!(wait_until(|| c.len() == 2));
    assert_eq!(
        c.lines(),
        ["\u{fffd}\u{fffd}\0abc\u{fffd}", "ok \u{20ac} \u{fffd}"]
    );
    assert!(h.stop());
}

#[test]
fn deleted_file_is_drained_then_the_new_one_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    append(&path, "");
    let (c, m, h) = start(file_source(&path, false));
    let mut old = OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(old, "before delete").unwrap();
    assert!(wait_until(|| c.len() == 1));
    std::fs::remove_file(&path).unwrap();
    writeln!(old, "written to the deleted file").unwrap();
    assert!(wait_until(|| c.len() == 2));
    assert_eq!(m.source_up(), 1);
    append(&path, "new file\n");
    assert!(wait_until(|| c.len() == 3));
    assert_eq!(
        c.lines(),
        ["before delete", "written to the deleted file", "new file"]
    );
    assert_eq!(m.rotations_total("rename"), 1);
    assert!(h.stop());
}

#[test]
fn fifo_survives_writers_coming_and_going() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("maillog.fifo");
    mkfifo(&path).unwrap();
    let (c, m, h) = start(Source::Fifo(path.clone()));
    for round in 0..3 {
        // A blocking open for writing succeeds only once the follower holds the FIFO.
        let mut w = OpenOptions::new().write(true).open(&path).unwrap();
        write!(w, "{LINE1} round={round}\npartial ").unwrap();
        w.write_all(b"end\n").unwrap();
        drop(w);
    }
    assert!(wait_until(|| c.len() == 6));
    assert_eq!(
        c.lines(),
        [
            format!("{LINE1} round=0"),
            "partial end".into(),
            format!("{LINE1} round=1"),
            "partial end".into(),
            format!("{LINE1} round=2"),
            "partial end".into(),
        ]
    );
    assert_eq!(m.source_up(), 1);
    assert!(h.stop());
    assert_eq!(m.source_up(), 0);
}

#[test]
fn fifo_path_that_is_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain");
    append(&path, "x\n");
    let c = Arc::new(collect());
    let err = spawn(
        Source::Fifo(path),
        c,
        FollowMetrics::new("test", "service").source("test"),
        opts(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn fifo_created_after_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.fifo");
    let (c, m, h) = start(Source::Fifo(path.clone()));
    assert_eq!(m.source_up(), 0);
    mkfifo(&path).unwrap();
    let mut w = OpenOptions::new().write(true).open(&path).unwrap();
    writeln!(w, "{LINE2}").unwrap();
    drop(w);
    assert!(wait_until(|| c.len() == 1));
    assert_eq!(c.lines(), [LINE2]);
    assert!(h.stop());
}

/// Runs only inside the child process started by `stdin_is_read_to_eof`.
#[test]
fn stdin_child() {
    if std::env::var_os("FOLLOW_STDIN_CHILD").is_none() {
        return;
    }
    let (c, m, h) = start(Source::Stdin);
    assert!(wait_until(|| h.is_finished()));
    for l in c.lines() {
        println!("LINE {l}");
    }
    println!("TOTAL {} UP {}", m.lines_total(), m.source_up());
}

#[test]
fn stdin_is_read_to_eof() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stdin_child", "--nocapture", "--test-threads=1"])
        .env("FOLLOW_STDIN_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    write!(stdin, "{LINE1}\r\n{LINE2}\nno newline at the end").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let got: Vec<&str> = text
        .lines()
        // The harness prints `test stdin_child ... ` in front of the first line.
        .filter_map(|l| {
            l.find("LINE ")
                .or_else(|| l.find("TOTAL "))
                .map(|i| &l[i..])
        })
        .collect();
    assert_eq!(
        got,
        [
            format!("LINE {LINE1}").as_str(),
            &format!("LINE {LINE2}"),
            "LINE no newline at the end",
            "TOTAL 3 UP 0"
        ]
    );
}
