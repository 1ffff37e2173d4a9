//! The `spool` queue source: walks `$queue_directory` itself and reads each queue file's
//! envelope and defer log, as showq does, without the showq round trip. It needs read
//! access to the queue directories (the `postfix` user or root), and is several times
//! faster on deep queues, where showq's per-file work in one process is the bottleneck.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Cursor, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::parse::queuefile::{parse_defer_log, read_envelope};
use crate::parse::{QUEUES, QueuedMessage, Recipient};

/// What one spool walk saw besides the messages.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpoolSummary {
    /// Messages reported.
    pub messages: u64,
    /// Files skipped: not ready (still being written), vanished, unreadable or corrupt.
    pub skipped: u64,
}

fn is_queue_id(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Files of one queue directory, recursing into hash subdirectories, with the path
/// relative to the queue directory.
fn queue_files(dir: &Path, rel: &mut PathBuf, out: &mut dyn FnMut(&Path, &Path)) -> io::Result<()> {
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
        rel.push(name);
        if ft.is_dir() {
            // Hash subdirectories are single characters; anything else is not Postfix's.
            if name.len() == 1 {
                queue_files(&entry.path(), rel, out)?;
            }
        } else if ft.is_file() && is_queue_id(name) {
            out(&entry.path(), rel);
        }
        rel.pop();
    }
    Ok(())
}

/// Reads the message's defer log into `buf` and returns its length; `None` when it has none.
fn defer_log(
    queue_dir: &Path,
    queue: &str,
    rel: &Path,
    id: &str,
    buf: &mut Vec<u8>,
) -> Option<usize> {
    let defer = queue_dir.join("defer");
    // deferred/ and defer/ are hashed alike, so a deferred message's log sits at the same
    // relative path; messages elsewhere (hold, active) are looked up at the usual depths.
    let mut candidates = Vec::with_capacity(3);
    if queue == "deferred" {
        candidates.push(defer.join(rel));
    }
    if let Some(c) = id.get(..1) {
        candidates.push(defer.join(c).join(id));
    }
    candidates.push(defer.join(id));
    candidates
        .into_iter()
        .find_map(|p| read_small(&p, buf).ok())
}

/// Walks the five queues under `queue_dir` in showq's order and reports each message.
///
/// Single-threaded on purpose: the walk is bound by the kernel's open/read/close of two
/// small files per message, and reader threads measured no faster (docs/benchmarks.md).
///
/// Errors: the queue directory itself cannot be read (permission denied). Individual
/// files that vanish or cannot be read are skipped and counted.
pub fn walk(
    queue_dir: &Path,
    on_message: &mut dyn FnMut(QueuedMessage),
) -> io::Result<SpoolSummary> {
    fs::read_dir(queue_dir)?;
    let mut summary = SpoolSummary::default();
    let mut buf = Vec::new();
    for queue in QUEUES {
        let mut rel = PathBuf::new();
        queue_files(
            &queue_dir.join(queue),
            &mut rel,
            &mut |path, rel| match read_message(queue_dir, queue, path, rel, &mut buf) {
                Some(m) => {
                    summary.messages += 1;
                    on_message(m);
                }
                None => summary.skipped += 1,
            },
        )?;
    }
    Ok(summary)
}

/// Largest queue file read in one go; bigger ones (large attachments) are read through a
/// buffer that seeks over the content.
const WHOLE_FILE_LIMIT: u64 = 256 * 1024;

/// Reads a small file with as few system calls as possible; returns its length, the
/// content being `buf[..len]`.
fn read_small(path: &Path, buf: &mut Vec<u8>) -> io::Result<usize> {
    read_all(&mut File::open(path)?, buf)
}

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

fn read_message(
    queue_dir: &Path,
    queue: &str,
    path: &Path,
    rel: &Path,
    buf: &mut Vec<u8>,
) -> Option<QueuedMessage> {
    // Open first and fstat the descriptor: one path lookup instead of two, which is most
    // of the cost of a walk.
    let mut file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    let mode = meta.permissions().mode();
    // Postfix marks a finished queue file by giving its owner rwx (cleanup writes it 0600);
    // the group execute bit is the forced-expiry flag.
    if !meta.is_file() || mode & 0o700 != 0o700 {
        return None;
    }
    let env = if meta.len() <= WHOLE_FILE_LIMIT {
        let n = read_all(&mut file, buf).ok()?;
        read_envelope(&mut Cursor::new(buf.get(..n)?)).ok()?
    } else {
        read_envelope(&mut BufReader::with_capacity(8192, file)).ok()?
    };
    let sender = env.sender?;
    let id = path.file_name()?.to_str()?.to_string();
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    let mut recipients = Vec::with_capacity(env.recipients.len());
    let mut listed: HashSet<String> = HashSet::new();
    if let Some(n) = defer_log(queue_dir, queue, rel, &id, buf) {
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
    Some(QueuedMessage {
        queue: queue.to_string(),
        queue_id: id,
        arrival_time: env.arrival_time.or(mtime),
        size: env.size.or(Some(meta.size())),
        forced_expire: mode & 0o010 != 0,
        sender: if sender.is_empty() {
            "MAILER-DAEMON".to_string()
        } else {
            sender
        },
        recipients,
    })
}
