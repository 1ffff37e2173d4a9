//! Change detection of the incremental walker on a synthetic spool: after every kind of
//! change Postfix makes, one long-lived walker must report exactly what a fresh full read
//! does, and read again only what changed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::*;
use crate::collector::queue::walk_spool;
use crate::parse::queuefile::write_record as rec;
use crate::queue::{MessageDigest, QueueAggregator, ShapeOptions};

/// Short enough that the tests need not wait long for stamps to be trusted.
const WINDOW: Duration = Duration::from_millis(100);

/// A queue file as cleanup writes it: sizes, arrival time, sender, recipients (a `D`
/// record is a recipient already delivered), content, end.
fn queue_file(arrival: i64, sender: &str, rcpts: &[&str], done: &[&str], body: &str) -> Vec<u8> {
    let mut f = Vec::new();
    let size = format!(
        "{:>15} {:>15} {:>15} {:>15} {:>15} {:>15}",
        body.len() + 2,
        0,
        rcpts.len() + done.len(),
        0,
        0,
        0
    );
    rec(&mut f, b'C', size.as_bytes());
    rec(&mut f, b'T', format!("{arrival} 0").as_bytes());
    rec(&mut f, b'S', sender.as_bytes());
    for r in rcpts {
        rec(&mut f, b'R', r.as_bytes());
    }
    for d in done {
        rec(&mut f, b'D', d.as_bytes());
    }
    rec(&mut f, b'M', b"");
    rec(&mut f, b'N', body.as_bytes());
    rec(&mut f, b'X', b"");
    rec(&mut f, b'E', b"");
    f
}

fn defer_log(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::new();
    for (r, reason) in entries {
        out.push_str(&format!(
            "<{r}>: {reason}\nrecipient={r}\nstatus=4.4.1\naction=delayed\nreason={reason}\n\n"
        ));
    }
    out.into_bytes()
}

struct Spool {
    dir: tempfile::TempDir,
}

impl Spool {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for q in QUEUES {
            fs::create_dir(dir.path().join(q)).unwrap();
        }
        fs::create_dir(dir.path().join("defer")).unwrap();
        Self { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    /// `queue/<first char>/<id>` for the hashed queues, `queue/<id>` for the others.
    fn rel(queue: &str, id: &str) -> PathBuf {
        if matches!(queue, "deferred" | "defer") {
            Path::new(&id[..1]).join(id)
        } else {
            PathBuf::from(id)
        }
    }
    fn file(&self, queue: &str, id: &str) -> PathBuf {
        self.path().join(queue).join(Self::rel(queue, id))
    }
    fn put(&self, queue: &str, id: &str, bytes: &[u8], mode: u32) {
        let p = self.file(queue, id);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    fn put_defer(&self, id: &str, entries: &[(&str, &str)]) {
        self.put("defer", id, &defer_log(entries), 0o600);
    }
    fn mv(&self, id: &str, from: &str, to: &str) {
        let dst = self.file(to, id);
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::rename(self.file(from, id), dst).unwrap();
    }
}

/// Every message a fresh full read reports, as digests sorted by queue ID.
fn reference(dir: &Path) -> Vec<MessageDigest> {
    let mut out = Vec::new();
    walk(dir, &mut |m| out.push(MessageDigest::of(&m.queue_id, &m))).unwrap();
    out.sort();
    out
}

/// One incremental walk: its digests (sorted) and counts.
fn inc(w: &mut SpoolWalker, dir: &Path) -> (Vec<MessageDigest>, SpoolSummary) {
    let mut out = Vec::new();
    let s = w
        .walk(dir, false, &mut |m| {
            out.push(MessageDigest::of(m.queue_id(), m))
        })
        .unwrap();
    out.sort();
    (out, s)
}

/// One incremental walk, held to a fresh read of the same spool, message by message and in
/// the metrics text (same `now`, so ages and buckets match to the byte); returns its counts.
fn check(w: &mut SpoolWalker, sp: &Spool) -> SpoolSummary {
    let now = SystemTime::now();
    let shape = ShapeOptions {
        queues: vec!["deferred".into(), "hold".into()],
        ..Default::default()
    };
    let mut got = Vec::new();
    let mut agg = QueueAggregator::new(common::runner::unix_secs(now), shape.clone());
    let s = w
        .walk(sp.path(), false, &mut |m| {
            got.push(MessageDigest::of(m.queue_id(), m));
            agg.add(m);
        })
        .unwrap();
    got.sort();
    assert_eq!(got, reference(sp.path()));
    let incremental = crate::cli::render_text(agg.into_metrics());
    let mut agg = QueueAggregator::new(common::runner::unix_secs(now), shape.clone());
    walk(sp.path(), &mut |m| agg.add(&m)).unwrap();
    assert_eq!(incremental, crate::cli::render_text(agg.into_metrics()));
    // The collector's path (a fresh walker, every file read) says the same.
    let fresh = walk_spool(&mut SpoolWalker::new(), sp.path(), true, now, &shape).unwrap();
    assert_eq!(
        incremental,
        crate::cli::render_text(fresh.aggregator.into_metrics())
    );
    s
}

/// Waits until every stamp so far is older than the racy window, so that the next walk
/// may reuse them (a longer wait only makes reuse more certain).
fn settle() {
    std::thread::sleep(WINDOW + Duration::from_millis(50));
}

fn filled() -> Spool {
    let sp = Spool::new();
    let body = "hello\n";
    sp.put(
        "deferred",
        "A1B2C3",
        &queue_file(
            1_700_000_000,
            "alice@mx.test",
            &["a@Example.COM", "b@example.org"],
            &[],
            body,
        ),
        0o700,
    );
    sp.put_defer(
        "A1B2C3",
        &[
            (
                "a@Example.COM",
                "connect to x[1.2.3.4]:25: Connection refused",
            ),
            ("b@example.org", "host x said: 450 4.7.1 greylisted"),
        ],
    );
    sp.put(
        "deferred",
        "B77",
        &queue_file(1_700_000_100, "", &["c@example.com"], &[], body),
        0o700,
    );
    sp.put_defer("B77", &[("c@example.com", "Connection timed out")]);
    sp.put(
        "deferred",
        "C5",
        &queue_file(
            1_700_000_200,
            "bob@mx.test",
            &["d@x.test", "e@x.test", "f@x.test"],
            &[],
            body,
        ),
        0o700,
    );
    sp.put_defer(
        "C5",
        &[
            ("d@x.test", "Connection refused"),
            ("e@x.test", "Connection refused"),
        ],
    );
    sp.put(
        "hold",
        "D9",
        &queue_file(
            1_700_000_300,
            "carol@mx.test",
            &["g@example.net"],
            &[],
            body,
        ),
        0o700,
    );
    sp.put(
        "active",
        "E1",
        &queue_file(1_700_000_400, "dave@mx.test", &["h@example.net"], &[], body),
        0o700,
    );
    // Still being written by cleanup: no owner execute bit.
    sp.put(
        "incoming",
        "F2",
        &queue_file(1_700_000_500, "erin@mx.test", &["i@x.test"], &[], body),
        0o600,
    );
    sp
}

#[test]
fn unchanged_files_are_reused_and_every_change_is_read_again() {
    let sp = filled();
    let mut w = SpoolWalker::with_racy_window(WINDOW);
    // Each change below is followed by settle(), so that the walk after it reads exactly
    // the changed files (fresher stamps are read once more: see the racy test).
    settle();
    let s = check(&mut w, &sp);
    assert_eq!(
        (s.messages, s.files_read, s.files_reused, s.skipped),
        (5, 5, 0, 1)
    );
    let s = check(&mut w, &sp);
    assert_eq!(
        (s.messages, s.files_read, s.files_reused, s.skipped),
        (5, 0, 5, 1),
        "nothing changed"
    );

    // qmgr retried: a new defer log (same queue file), then the queue file's mtime moved.
    sp.put_defer(
        "B77",
        &[(
            "c@example.com",
            "delivery temporarily suspended: Connection refused",
        )],
    );
    settle();
    let s = check(&mut w, &sp);
    assert_eq!((s.files_read, s.files_reused), (1, 4));
    let f = fs::File::options()
        .write(true)
        .open(sp.file("deferred", "B77"))
        .unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(4000))
        .unwrap();
    drop(f);
    settle();
    assert_eq!(
        check(&mut w, &sp).files_read,
        1,
        "mtime moved to the next retry"
    );

    // A delivery agent marked a recipient done in place: same size, fewer recipients.
    let before = fs::metadata(sp.file("deferred", "C5")).unwrap().len();
    let c5 = queue_file(
        1_700_000_200,
        "bob@mx.test",
        &["d@x.test", "e@x.test"],
        &["f@x.test"],
        "hello\n",
    );
    fs::write(sp.file("deferred", "C5"), c5).unwrap();
    assert_eq!(
        fs::metadata(sp.file("deferred", "C5")).unwrap().len(),
        before
    );
    settle();
    assert_eq!(check(&mut w, &sp).files_read, 1);

    // postsuper -h: deferred -> hold (the defer log stays where it is), then -H back.
    sp.mv("A1B2C3", "deferred", "hold");
    settle();
    let (got, _) = inc(&mut w, sp.path());
    let held = got.iter().find(|d| d.queue_id == "A1B2C3").unwrap();
    assert_eq!(
        (held.queue.as_str(), held.recipients, held.reasons[4]),
        ("hold", 2, 1)
    );
    check(&mut w, &sp);
    sp.mv("A1B2C3", "hold", "deferred");
    settle();
    check(&mut w, &sp);

    // postsuper -e: chmod g+x, the forced-expire mark; and a first defer log for a held message.
    sp.put_defer("D9", &[("g@example.net", "Connection refused")]);
    fs::set_permissions(sp.file("hold", "D9"), fs::Permissions::from_mode(0o710)).unwrap();
    settle();
    let s = check(&mut w, &sp);
    assert_eq!(s.files_read, 1);
    let (got, _) = inc(&mut w, sp.path());
    let d9 = got.iter().find(|d| d.queue_id == "D9").unwrap();
    assert!(d9.forced_expire);
    assert_eq!(
        d9.reasons[0], 1,
        "the new defer log of a held message is read"
    );

    // cleanup finished the incoming file; it was never cached while not ready.
    fs::set_permissions(sp.file("incoming", "F2"), fs::Permissions::from_mode(0o700)).unwrap();
    settle();
    let s = check(&mut w, &sp);
    assert_eq!((s.messages, s.files_read, s.skipped), (6, 1, 0));

    // A new file under an old name (a new inode), and a deletion with its defer log.
    let tmp = sp.path().join("active").join("tmp");
    let e1 = queue_file(
        1_700_000_401,
        "dave@mx.test",
        &["h@example.net", "j@example.net"],
        &[],
        "x",
    );
    fs::write(&tmp, e1).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o700)).unwrap();
    fs::rename(&tmp, sp.file("active", "E1")).unwrap();
    fs::remove_file(sp.file("deferred", "B77")).unwrap();
    fs::remove_file(sp.file("defer", "B77")).unwrap();
    settle();
    let s = check(&mut w, &sp);
    assert_eq!((s.messages, s.files_read), (5, 1));
    assert_eq!(
        w.cached_files(),
        5,
        "the deleted file is dropped from the cache"
    );

    // A defer log that vanishes (the message was requeued) is noticed too.
    fs::remove_file(sp.file("defer", "C5")).unwrap();
    settle();
    assert_eq!(check(&mut w, &sp).files_read, 1);

    // A full walk reads everything again.
    let s = w.walk(sp.path(), true, &mut |_| {}).unwrap();
    assert_eq!((s.files_read, s.files_reused), (5, 0));
}

#[test]
fn files_changed_just_before_a_walk_are_read_again_on_the_next() {
    let sp = filled();
    // Every stamp is within an hour: none is trusted, every walk reads every file.
    let mut w = SpoolWalker::with_racy_window(Duration::from_secs(3600));
    for _ in 0..3 {
        let s = check(&mut w, &sp);
        assert_eq!((s.files_read, s.files_reused), (5, 0));
    }
}

#[test]
fn emptied_queue_frees_entries_and_domains() {
    let sp = filled();
    let mut w = SpoolWalker::with_racy_window(WINDOW);
    check(&mut w, &sp);
    assert_eq!(w.cached_files(), 5);
    assert!(w.cached_domains() >= 5, "{}", w.cached_domains());
    for q in QUEUES {
        fs::remove_dir_all(sp.path().join(q)).unwrap();
    }
    let s = check(&mut w, &sp);
    assert_eq!(
        (s.messages, w.cached_files(), w.cached_domains()),
        (0, 0, 0)
    );
}

#[test]
fn unreadable_queue_directory_is_an_error_and_odd_entries_are_ignored() {
    let mut w = SpoolWalker::new();
    assert!(
        w.walk(Path::new("/nonexistent/spool"), false, &mut |_| {})
            .is_err()
    );
    let sp = filled();
    // Not queue files: a dotfile, a long-named directory, a symlink, a corrupt file.
    fs::write(sp.path().join("deferred").join(".hidden"), b"x").unwrap();
    fs::create_dir(sp.path().join("deferred").join("notahash")).unwrap();
    std::os::unix::fs::symlink(sp.file("hold", "D9"), sp.path().join("hold").join("L1")).unwrap();
    sp.put("hold", "BAD1", b"\xff\xff\xff garbage", 0o700);
    let s = check(&mut w, &sp);
    assert_eq!(
        (s.messages, s.skipped),
        (5, 2),
        "corrupt and not-ready files are skipped"
    );
}
