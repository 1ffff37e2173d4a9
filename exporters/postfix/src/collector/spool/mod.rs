//! The `spool` queue source: walks `$queue_directory` itself and reads each queue file's
//! envelope and defer log, as showq does, without the showq round trip. It needs read
//! access to the queue directories (the `postfix` user or root).
//!
//! The walk is incremental. Between two walks of a deep queue almost nothing changes, and
//! opening and reading two small files per message is what a walk costs, so
//! [`SpoolWalker`] keeps a compact summary per queue file and, on the next walk, lists the
//! directories and `stat`s each file and its defer log, and reads again only the files
//! whose identity (device, inode) or mtime, ctime or size changed. What changes a
//! message's listing changes one of those: qmgr rewrites the defer log and sets the queue
//! file's mtime to the next retry, delivery agents mark recipients done in place,
//! `postsuper -h/-H/-r` move files between queues (the queue comes from where the file is
//! found, each walk), `postsuper -e/-f` chmod the file (ctime and the expire bit), a file
//! still being written lacks the owner execute bit and is never cached. Files that vanish
//! are dropped from the cache at the end of the walk.
//!
//! Single-threaded on purpose: the walk is bound by the kernel's system calls; threads
//! reading files measured no faster for full walks, nor a thread stat-ing the defer logs
//! ahead for warm ones (docs/benchmarks-postfix-queue.md).

mod cache;
mod read;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cache::{Cache, Entry, FastMap, Summary};
use read::{
    Candidate, DeferCandidates, Stat, is_forced_expire, is_ready, queue_files, read_message,
};

use crate::parse::{QUEUES, QueuedMessage};
use crate::queue::MessageFacts;

/// What one spool walk saw besides the messages.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpoolSummary {
    /// Messages reported.
    pub messages: u64,
    /// Files skipped: not ready (still being written), vanished, unreadable or corrupt.
    pub skipped: u64,
    /// Queue files opened and parsed (with their defer logs) in this walk.
    pub files_read: u64,
    /// Queue files whose cached summary was used because nothing about them changed.
    pub files_reused: u64,
}

/// Walks the five queues under `queue_dir` in showq's order and reports each message,
/// reading every file (no cache): the reference the incremental walker is held to.
///
/// Errors: the queue directory itself cannot be read (permission denied). Individual
/// files that vanish or cannot be read are skipped and counted.
pub fn walk(
    queue_dir: &Path,
    on_message: &mut dyn FnMut(QueuedMessage),
) -> io::Result<SpoolSummary> {
    std::fs::read_dir(queue_dir)?;
    let mut summary = SpoolSummary::default();
    let (mut buf, mut scratch) = (Vec::new(), PathBuf::new());
    for queue in QUEUES {
        let mut rel = PathBuf::new();
        queue_files(
            &queue_dir.join(queue),
            &mut rel,
            &mut |entry, rel_dir, id| match read_message(
                queue_dir,
                queue,
                &entry.path(),
                rel_dir,
                id,
                &mut buf,
                &mut scratch,
            ) {
                Some(r) => {
                    summary.messages += 1;
                    summary.files_read += 1;
                    on_message(r.msg);
                }
                None => summary.skipped += 1,
            },
        )?;
    }
    Ok(summary)
}

/// How long after a file's last change its stamps are not trusted: a change in the same
/// tick of a coarse file system clock (1 s on some file systems, a few ms for the kernel's
/// own) could leave mtime, ctime and size as they were, so a file changed this recently
/// before a walk is read again on the next one.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// The spool walker that remembers what it read: see the module documentation.
#[derive(Debug)]
pub struct SpoolWalker {
    cache: Cache,
    /// The current walk's number, stored in the entries it sees.
    walk: u32,
    racy_window: Duration,
    buf: Vec<u8>,
    scratch: PathBuf,
    listing: DeferListing,
}

/// The entries of one `defer/` directory, listed once for all the messages of the
/// matching `deferred/` directory. A `stat` through a listed entry names one file in an open
/// directory, where a `stat` by path looks up every component of
/// `$queue_directory/defer/X/ID` again: that lookup was the largest single cost of a warm
/// walk.
#[derive(Debug, Default)]
struct DeferListing {
    /// The listed directory, relative to `defer/` (`None`: nothing listed).
    dir: Option<PathBuf>,
    entries: FastMap<OsString, fs::DirEntry>,
}

impl DeferListing {
    /// The entry `id` of `defer/<rel_dir>`, listing that directory first if it is not the
    /// one listed. A directory that cannot be listed has no entries, like one that does not
    /// exist; a fresh read then fails to open the log the same way.
    fn find(&mut self, queue_dir: &Path, rel_dir: &Path, id: &str) -> Option<&fs::DirEntry> {
        if self.dir.as_deref() != Some(rel_dir) {
            self.entries.clear();
            if let Ok(rd) = fs::read_dir(queue_dir.join("defer").join(rel_dir)) {
                for e in rd.flatten() {
                    self.entries.insert(e.file_name(), e);
                }
            }
            self.dir = Some(rel_dir.to_path_buf());
        }
        self.entries.get(std::ffi::OsStr::new(id))
    }
}

impl Default for SpoolWalker {
    fn default() -> Self {
        Self::new()
    }
}

impl SpoolWalker {
    /// A walker with an empty cache: its first walk reads every file.
    pub fn new() -> Self {
        Self::with_racy_window(RACY_WINDOW)
    }

    /// A walker that distrusts stamps younger than `window` instead of [`RACY_WINDOW`]
    /// (the tests use a short one to see reuse without waiting).
    pub fn with_racy_window(window: Duration) -> Self {
        Self {
            cache: Cache::default(),
            walk: 0,
            racy_window: window,
            buf: Vec::new(),
            scratch: PathBuf::new(),
            listing: DeferListing::default(),
        }
    }

    /// Queue files cached.
    pub fn cached_files(&self) -> usize {
        self.cache.len()
    }

    /// Distinct domains held by the cache.
    pub fn cached_domains(&self) -> usize {
        self.cache.domains.len()
    }

    /// Forgets everything, so that the next walk reads every file.
    pub fn clear(&mut self) {
        self.cache.clear();
    }

    /// Walks the five queues under `queue_dir` in showq's order and reports each message,
    /// reading only files that changed since the last walk (all of them with `full`).
    /// The messages and their facts are exactly those of [`walk`] at the same moment.
    ///
    /// Errors: the queue directory itself cannot be read. Individual files that vanish or
    /// cannot be read are skipped and counted. After an error the cache is kept; files the
    /// failed walk did not reach are checked again on the next one.
    pub fn walk(
        &mut self,
        queue_dir: &Path,
        full: bool,
        on_message: &mut dyn FnMut(&SpoolMessage<'_>),
    ) -> io::Result<SpoolSummary> {
        std::fs::read_dir(queue_dir)?;
        if full {
            self.cache.clear();
        }
        // Walk numbers only need to differ from the previous walk's; 0 is never used, so a
        // fresh entry can never look seen.
        self.walk = self.walk.wrapping_add(1).max(1);
        let racy_after = nanos_since_epoch(SystemTime::now())
            .saturating_sub(i64::try_from(self.racy_window.as_nanos()).unwrap_or(i64::MAX));
        let mut summary = SpoolSummary::default();
        // With nothing cached (the first walk) a stat could only lead to a miss: skip it.
        let cold = self.cache.len() == 0;
        for queue in QUEUES {
            let ctx = Visit {
                queue_dir,
                queue,
                racy_after,
                cold,
            };
            let mut rel_dir = PathBuf::new();
            let r = queue_files(
                &queue_dir.join(queue),
                &mut rel_dir,
                &mut |entry, rel_dir, id| {
                    self.visit(&ctx, entry, rel_dir, id, &mut summary, on_message);
                },
            );
            if let Err(e) = r {
                self.listing = DeferListing::default();
                return Err(e);
            }
        }
        // The listing holds its directory open: close it between walks.
        self.listing = DeferListing::default();
        self.cache.sweep(self.walk);
        Ok(summary)
    }

    /// One queue file: the cached summary when nothing changed, else a fresh read.
    fn visit(
        &mut self,
        ctx: &Visit<'_>,
        entry: &fs::DirEntry,
        rel_dir: &Path,
        id: &str,
        summary: &mut SpoolSummary,
        on_message: &mut dyn FnMut(&SpoolMessage<'_>),
    ) {
        let Visit {
            queue_dir,
            queue,
            racy_after,
            cold,
        } = *ctx;
        if !cold {
            let Ok(meta) = entry.metadata() else {
                // Gone between the listing and the stat, like a file that fails to open.
                summary.skipped += 1;
                return;
            };
            let mode = meta.permissions().mode();
            if !meta.is_file() || !is_ready(mode) {
                summary.skipped += 1;
                return;
            }
            let now = Stat::of(&meta);
            if let Some(slot) = self.cache.find(now.dev, now.ino)
                && self.unchanged(slot, &now, queue_dir, queue, rel_dir, id)
                && let Some(e) = self.cache.get_mut(slot)
            {
                e.seen = self.walk;
                summary.messages += 1;
                summary.files_reused += 1;
                if let Some(e) = self.cache.get(slot) {
                    on_message(&SpoolMessage {
                        queue,
                        queue_id: id,
                        forced_expire: is_forced_expire(mode),
                        summary: &e.summary,
                        cache: &self.cache,
                    });
                }
                return;
            }
        }
        let Some(r) = read_message(
            queue_dir,
            queue,
            &entry.path(),
            rel_dir,
            id,
            &mut self.buf,
            &mut self.scratch,
        ) else {
            summary.skipped += 1;
            return;
        };
        summary.messages += 1;
        summary.files_read += 1;
        let racy =
            r.file.ctime_ns >= racy_after || r.defer.is_some_and(|(_, d)| d.ctime_ns >= racy_after);
        let s = Summary::of(&r.msg, &mut self.cache.domains, &mut self.cache.reasons);
        let slot = self.cache.put(
            r.file.dev,
            r.file.ino,
            Entry::new(self.walk, racy, &r.file, r.defer, s),
        );
        if let Some(e) = self.cache.get(slot) {
            on_message(&SpoolMessage {
                queue,
                queue_id: id,
                forced_expire: r.msg.forced_expire,
                summary: &e.summary,
                cache: &self.cache,
            });
        }
    }

    /// Whether the cached entry in `slot` still describes the file (stamps `now`) and its
    /// defer log. The defer log is looked for where a fresh read would look, in the same
    /// order: the first regular file there must be the one read before, with the same stamps.
    fn unchanged(
        &mut self,
        slot: u32,
        now: &Stat,
        queue_dir: &Path,
        queue: &str,
        rel_dir: &Path,
        id: &str,
    ) -> bool {
        let Some(e) = self.cache.get(slot) else {
            return false;
        };
        if e.racy || e.seen == self.walk || !e.same_file(now) {
            // A second sighting in one walk (a file moved during the walk) is read again,
            // as a fresh walk would.
            return false;
        }
        let cached = e.defer().map(|(p, s)| (p, *s));
        let places = DeferCandidates::new(queue, rel_dir, id);
        for i in 0..places.len() {
            let meta = if places.get(i) == Some(Candidate::SameAsQueueFile) {
                match self.listing.find(queue_dir, rel_dir, id) {
                    // Not listed: absent.
                    None => continue,
                    // A symlink is followed, as the open of a fresh read does.
                    Some(e) if e.file_type().is_ok_and(|t| t.is_symlink()) => {
                        places.path(i, queue_dir, rel_dir, id, &mut self.scratch);
                        fs::metadata(&self.scratch)
                    }
                    Some(e) => e.metadata(),
                }
            } else {
                places.path(i, queue_dir, rel_dir, id, &mut self.scratch);
                // metadata() follows symlinks, as the open of a fresh read does.
                fs::metadata(&self.scratch)
            };
            match meta {
                Ok(m) if m.is_file() => {
                    return cached.is_some_and(|(p, s)| usize::from(p) == i && s == Stat::of(&m));
                }
                // Absent, or not a file (which a fresh read cannot read either).
                _ => {}
            }
        }
        cached.is_none()
    }
}

/// What every file of one queue in one walk shares.
struct Visit<'a> {
    queue_dir: &'a Path,
    queue: &'a str,
    /// Stamps at or after this (ns since the epoch) are too recent to trust next time.
    racy_after: i64,
    /// Nothing was cached when the walk began.
    cold: bool,
}

fn nanos_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// One message of an incremental walk: where it was found, and its cached summary.
pub struct SpoolMessage<'a> {
    queue: &'a str,
    queue_id: &'a str,
    forced_expire: bool,
    summary: &'a Summary,
    cache: &'a Cache,
}

impl SpoolMessage<'_> {
    /// The queue ID (the file name).
    pub fn queue_id(&self) -> &str {
        self.queue_id
    }
}

impl MessageFacts for SpoolMessage<'_> {
    fn queue(&self) -> &str {
        self.queue
    }
    fn size(&self) -> Option<u64> {
        self.summary.size()
    }
    fn arrival_time(&self) -> Option<i64> {
        self.summary.arrival_time()
    }
    fn forced_expire(&self) -> bool {
        self.forced_expire
    }
    fn recipient_count(&self) -> u64 {
        self.summary.recipients()
    }
    fn reason_classes(
        &self,
        _classify: &mut dyn FnMut(Option<&str>) -> usize,
        f: &mut dyn FnMut(usize, u64),
    ) {
        // Classified when the file was read; the texts are not kept.
        for g in self.summary.groups.as_slice() {
            f(usize::from(g.class), u64::from(g.count));
        }
    }
    fn recipient_domains(&self, f: &mut dyn FnMut(&str, u64)) {
        for g in self.summary.groups.as_slice() {
            f(self.cache.domains.get(g.domain), u64::from(g.count));
        }
    }
    fn sender_domain(&self, f: &mut dyn FnMut(&str)) {
        f(self.cache.domains.get(self.summary.sender));
    }
}
