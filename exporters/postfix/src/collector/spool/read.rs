//! Reading the spool: the queue directory walk, one queue file with its defer log, and the
//! `stat` identity of both that the incremental walker compares between walks.

use std::collections::HashSet;
use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, Cursor, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::parse::queuefile::{parse_defer_log, read_envelope};
use crate::parse::{QueuedMessage, Recipient};

/// Identity and change stamps of one file: a file is taken as unchanged while all of them
/// are (every write moves mtime and ctime, `utime` and `chmod` move ctime, a rename onto
/// the name or a new file gives another inode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub size: u64,
}

fn nanos(secs: i64, nsec: i64) -> i64 {
    // Saturates only past the year 2262; ctime (which no one can set) still tells changes apart.
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

impl Stat {
    pub fn of(m: &Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            mtime_ns: nanos(m.mtime(), m.mtime_nsec()),
            ctime_ns: nanos(m.ctime(), m.ctime_nsec()),
            size: m.size(),
        }
    }
}

/// Postfix marks a finished queue file by giving its owner rwx (cleanup writes it 0600, so a
/// file without it is still being written or was left half-written).
pub(super) fn is_ready(mode: u32) -> bool {
    mode & 0o700 == 0o700
}

/// The group execute bit is the forced-expiry mark of `postsuper -e` / `-f`.
pub(super) fn is_forced_expire(mode: u32) -> bool {
    mode & 0o010 != 0
}

fn is_queue_id(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Files of one queue directory, recursing into hash subdirectories, with the directory
/// they are in relative to the queue directory (`""`, `"A"`, …) and the queue ID (the file
/// name). The relative directory is only pushed for subdirectories, not per file: this
/// runs for every message of every walk.
pub(super) fn queue_files(
    dir: &Path,
    rel_dir: &mut PathBuf,
    out: &mut dyn FnMut(&fs::DirEntry, &Path, &str),
) -> io::Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        // A queue directory that does not exist (yet) is an empty queue.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in rd {
        let entry = match entry {
            Ok(e) => e,
            Err(_) => continue,
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ft = match entry.file_type() {
            Ok(t) => t,
            Err(_) => continue,
        };
        if ft.is_dir() {
            // Hash subdirectories are single characters; anything else is not Postfix's.
            if name.len() == 1 {
                rel_dir.push(name);
                let r = queue_files(&entry.path(), rel_dir, out);
                rel_dir.pop();
                r?;
            }
        } else if ft.is_file() && is_queue_id(name) {
            out(&entry, rel_dir, name);
        }
    }
    Ok(())
}

/// One place a defer log may be, relative to `$queue_directory/defer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Candidate {
    /// The queue file's own relative path: `deferred/` and `defer/` are hashed alike.
    SameAsQueueFile,
    /// One level of hashing by the first character (`hash_queue_depth = 1`).
    FirstChar,
    /// No hashing.
    Flat,
}

/// Where a message's defer log is looked for, in order, without repeating a path: a
/// deferred message's log sits at the same relative path as its queue file; messages
/// elsewhere (hold, active) are looked up at the usual depths.
pub(super) struct DeferCandidates {
    list: [Candidate; 3],
    len: usize,
}

impl DeferCandidates {
    /// The places for message `id` found in `queue`, in directory `rel_dir` of it.
    pub fn new(queue: &str, rel_dir: &Path, id: &str) -> Self {
        let mut list = [Candidate::Flat; 3];
        let mut len = 0;
        let mut push = |c| {
            if let Some(slot) = list.get_mut(len) {
                *slot = c;
                len += 1;
            }
        };
        let first_char = id.get(..1);
        if queue == "deferred" {
            push(Candidate::SameAsQueueFile);
            // The same path as the first place is not looked at twice.
            let dir = rel_dir.as_os_str();
            if first_char.is_some_and(|c| dir != c) {
                push(Candidate::FirstChar);
            }
            if !dir.is_empty() {
                push(Candidate::Flat);
            }
        } else {
            if first_char.is_some() {
                push(Candidate::FirstChar);
            }
            push(Candidate::Flat);
        }
        Self { list, len }
    }

    /// How many places there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Place `i`.
    pub fn get(&self, i: usize) -> Option<Candidate> {
        self.list.get(..self.len)?.get(i).copied()
    }

    /// Writes the full path of place `i` into `out` (reused across calls).
    pub fn path(&self, i: usize, queue_dir: &Path, rel_dir: &Path, id: &str, out: &mut PathBuf) {
        out.as_mut_os_string().clear();
        out.push(queue_dir);
        out.push("defer");
        match self.list.get(i) {
            Some(Candidate::SameAsQueueFile) => {
                out.push(rel_dir);
                out.push(id);
            }
            Some(Candidate::FirstChar) => {
                out.push(id.get(..1).unwrap_or_default());
                out.push(id);
            }
            Some(Candidate::Flat) | None => out.push(id),
        }
    }
}

/// Largest queue file read in one go; bigger ones (large attachments) are read through a
/// buffer that seeks over the content.
const WHOLE_FILE_LIMIT: u64 = 256 * 1024;

/// Reads an open regular file to its end into `buf` (one `read` unless the file is larger
/// than the buffer). The buffer is reused across files and never shrunk or re-zeroed, so
/// its stale tail must be ignored: only `buf[..len]` is the file.
fn read_all(f: &mut File, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.len() < 16 * 1024 {
        buf.resize(16 * 1024, 0);
    }
    let mut filled = 0;
    loop {
        let n = f.read(&mut buf[filled..])?;
        filled += n;
        // A short read of a regular file means end of file.
        if n == 0 || filled < buf.len() {
            return Ok(filled);
        }
        let grown = buf.len() * 2;
        buf.resize(grown, 0);
    }
}

/// A message read from the spool, with the stamps of the files it came from.
pub(super) struct ReadMessage {
    /// The message, as showq would list it.
    pub msg: QueuedMessage,
    /// The queue file, as `fstat` saw it right after opening, before reading: a change
    /// while it was read shows as a different stamp on the next walk.
    pub file: Stat,
    /// The defer log that was read: its place among the [`DeferCandidates`] and its stamp.
    pub defer: Option<(u8, Stat)>,
}

/// Reads the first defer log that can be read into `buf`: (place, stamp, length).
fn read_defer_log(
    queue_dir: &Path,
    queue: &str,
    rel_dir: &Path,
    id: &str,
    buf: &mut Vec<u8>,
    scratch: &mut PathBuf,
) -> Option<(u8, Stat, usize)> {
    let places = DeferCandidates::new(queue, rel_dir, id);
    (0..places.len()).find_map(|i| {
        places.path(i, queue_dir, rel_dir, id, scratch);
        let mut f = File::open(&*scratch).ok()?;
        let meta = f.metadata().ok()?;
        let n = read_all(&mut f, buf).ok()?;
        Some((u8::try_from(i).ok()?, Stat::of(&meta), n))
    })
}

/// Reads one queue file and its defer log the way showq does: defer-log recipients first,
/// with their reasons, then the queue file's recipients not in the log. `None` when the
/// file is not ready, vanished, cannot be read or has no sender record.
pub(super) fn read_message(
    queue_dir: &Path,
    queue: &str,
    path: &Path,
    rel_dir: &Path,
    id: &str,
    buf: &mut Vec<u8>,
    scratch: &mut PathBuf,
) -> Option<ReadMessage> {
    // Open first and fstat the descriptor: one path lookup instead of two, which is most
    // of the cost of a walk.
    let mut file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    let mode = meta.permissions().mode();
    if !meta.is_file() || !is_ready(mode) {
        return None;
    }
    let env = if meta.len() <= WHOLE_FILE_LIMIT {
        let n = read_all(&mut file, buf).ok()?;
        read_envelope(&mut Cursor::new(buf.get(..n)?)).ok()?
    } else {
        read_envelope(&mut BufReader::with_capacity(8192, file)).ok()?
    };
    let sender = env.sender?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    let mut recipients = Vec::with_capacity(env.recipients.len());
    let mut listed: HashSet<String> = HashSet::new();
    let defer = read_defer_log(queue_dir, queue, rel_dir, id, buf, scratch);
    if let Some((_, _, n)) = defer {
        for e in parse_defer_log(buf.get(..n).unwrap_or_default()) {
            listed.insert(e.recipient.clone());
            recipients.push(Recipient {
                address: e.recipient,
                reason: Some(e.reason).filter(|r| !r.is_empty()),
                ..Default::default()
            });
        }
    }
    for a in env.recipients {
        if !listed.contains(&a) {
            recipients.push(Recipient {
                address: a,
                ..Default::default()
            });
        }
    }
    Some(ReadMessage {
        msg: QueuedMessage {
            queue: queue.to_string(),
            queue_id: id.to_string(),
            arrival_time: env.arrival_time.or(mtime),
            size: env.size.or(Some(meta.size())),
            forced_expire: is_forced_expire(mode),
            sender: if sender.is_empty() {
                "MAILER-DAEMON".to_string()
            } else {
                sender
            },
            recipients,
        },
        file: Stat::of(&meta),
        defer: defer.map(|(i, s, _)| (i, s)),
    })
}
