//! Following a regular file across rotation.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use super::{Ctx, READ_CHUNK};

/// Longest wait between two attempts while a path keeps failing (not a file, no
/// permission, read errors): retrying every poll would fill the log and burn CPU.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

struct Open {
    file: File,
    dev: u64,
    ino: u64,
    offset: u64,
    /// The last bytes read, to recognise this file's copy after a copytruncate.
    tail: Vec<u8>,
}

/// Bytes compared between our read position and a candidate copy.
const TAIL: usize = 4096;

impl Open {
    fn remember(&mut self, chunk: &[u8]) {
        if chunk.len() >= TAIL {
            self.tail.clear();
            self.tail
                .extend_from_slice(chunk.get(chunk.len() - TAIL..).unwrap_or_default());
        } else {
            let excess = (self.tail.len() + chunk.len()).saturating_sub(TAIL);
            self.tail.drain(..excess);
            self.tail.extend_from_slice(chunk);
        }
    }
}

fn open(path: &Path) -> std::io::Result<Open> {
    let file = File::open(path)?;
    // The identity of what was really opened, not of what a stat before it saw.
    let m = file.metadata()?;
    if m.is_dir() {
        // Opening a directory succeeds on Linux; every read would then fail with EISDIR.
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "is a directory, not a log file",
        ));
    }
    Ok(Open {
        file,
        dev: m.dev(),
        ino: m.ino(),
        offset: 0,
        tail: Vec::new(),
    })
}

/// What the path names, seen at end of file.
enum PathState {
    Same,
    Truncated,
    Replaced(Open),
    Missing,
}

fn look(path: &Path, cur: &Open) -> std::io::Result<PathState> {
    let m = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(PathState::Missing),
        Err(e) => return Err(e),
    };
    if m.dev() == cur.dev && m.ino() == cur.ino {
        return Ok(if m.len() < cur.offset {
            PathState::Truncated
        } else {
            PathState::Same
        });
    }
    match open(path) {
        Ok(o) => Ok(PathState::Replaced(o)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(PathState::Missing),
        Err(e) => Err(e),
    }
}

/// Reads `cur` to its current end, feeding lines. Returns false on a read error.
fn drain(cur: &mut Open, buf: &mut [u8], ctx: &mut Ctx, shown: &str) -> bool {
    loop {
        match cur.file.read(buf) {
            Ok(0) => return true,
            Ok(n) => {
                cur.offset += n as u64;
                let chunk = buf.get(..n).unwrap_or_default();
                cur.remember(chunk);
                ctx.reader.feed(chunk);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                ctx.metrics().read_errors.inc();
                tracing::warn!(path = %shown, error = %e, "error reading log file");
                return false;
            }
        }
    }
}

/// Files the copy of `path` may have been given (newest first), from the patterns.
fn copy_candidates(path: &Path, patterns: &[String]) -> Vec<std::path::PathBuf> {
    let full = path.display().to_string();
    let mut found: Vec<(std::time::SystemTime, std::path::PathBuf)> = Vec::new();
    for p in patterns {
        let pat = p.replace("{}", &full);
        let pat = Path::new(&pat);
        let (Some(dir), Some(name)) = (pat.parent(), pat.file_name().and_then(|n| n.to_str()))
        else {
            continue;
        };
        let mut push = |c: std::path::PathBuf| {
            if let Ok(m) = std::fs::metadata(&c)
                && m.is_file()
            {
                found.push((m.modified().unwrap_or(std::time::UNIX_EPOCH), c));
            }
        };
        match name.split_once('*') {
            None => push(pat.to_path_buf()),
            Some((pre, post)) => {
                let Ok(rd) = std::fs::read_dir(dir) else {
                    continue;
                };
                for e in rd.flatten() {
                    let n = e.file_name();
                    let Some(n) = n.to_str() else { continue };
                    if n.len() >= pre.len() + post.len() && n.starts_with(pre) && n.ends_with(post)
                    {
                        push(e.path());
                    }
                }
            }
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|(_, p)| p).collect()
}

/// After a copytruncate, reads what was written after our position and before the copy
/// from the copy, if one of the candidates is the old file (its bytes before our position
/// are the ones we read last). Returns whether a copy was found.
fn recover_from_copy(
    path: &Path,
    cur: &Open,
    patterns: &[String],
    buf: &mut [u8],
    ctx: &mut Ctx,
    shown: &str,
) -> bool {
    let want = cur.tail.as_slice();
    for cand in copy_candidates(path, patterns) {
        let Ok(mut copy) = open(&cand) else {
            continue;
        };
        let Ok(len) = copy.file.metadata().map(|m| m.len()) else {
            continue;
        };
        if len < cur.offset {
            continue;
        }
        let start = cur.offset - want.len() as u64;
        let mut have = vec![0u8; want.len()];
        if copy.file.seek(SeekFrom::Start(start)).is_err()
            || copy.file.read_exact(&mut have).is_err()
        {
            continue;
        }
        if have != want {
            continue;
        }
        copy.offset = cur.offset;
        let shown_copy = cand.display().to_string();
        drain(&mut copy, buf, ctx, &shown_copy);
        let got = copy.offset - cur.offset;
        tracing::info!(path = %shown, copy = %shown_copy, bytes = got, "read the rest of the truncated log from its rotated copy");
        return true;
    }
    false
}

/// The next wait while a path keeps failing: doubled, at most [`MAX_BACKOFF`].
fn next_backoff(backoff: Duration, poll: Duration) -> Duration {
    (backoff * 2).min(MAX_BACKOFF.max(poll))
}

pub(super) fn run(path: &Path, from_beginning: bool, copies: &[String], mut ctx: Ctx) {
    let shown = path.display().to_string();
    // A file that exists but cannot be opened yet (permissions, not a file) holds old
    // lines: once readable, it is read from its end like any file present at start.
    let mut skip_existing = false;
    let mut open_failing = false;
    let mut cur = match open(path) {
        Ok(mut o) => {
            if !from_beginning {
                match o.file.seek(SeekFrom::End(0)) {
                    Ok(end) => o.offset = end,
                    Err(e) => {
                        ctx.metrics().read_errors.inc();
                        tracing::warn!(path = %shown, error = %e, "cannot seek to the end of the log file; reading it from the beginning");
                    }
                }
            }
            ctx.metrics().source_up.set(1);
            tracing::info!(path = %shown, offset = o.offset, "following log file");
            Some(o)
        }
        Err(e) => {
            if e.kind() == ErrorKind::NotFound {
                tracing::warn!(path = %shown, "log file does not exist yet, waiting for it");
            } else {
                ctx.metrics().read_errors.inc();
                skip_existing = !from_beginning;
                open_failing = true;
                tracing::warn!(path = %shown, error = %e, "cannot open log file, will retry with backoff");
            }
            None
        }
    };
    ctx.shared.set_started();
    let mut buf = vec![0u8; READ_CHUNK];
    // A failing open is counted and logged once per episode (`open_failing`), not once
    // per poll, and retried with a growing delay.
    let mut backoff = ctx.poll;
    while !ctx.shared.stopping() {
        let Some(o) = cur.as_mut() else {
            match open(path) {
                Ok(mut o) => {
                    if skip_existing {
                        if let Ok(end) = o.file.seek(SeekFrom::End(0)) {
                            o.offset = end;
                        }
                        tracing::info!(path = %shown, offset = o.offset, "log file readable now, following it from its end");
                    } else {
                        tracing::info!(path = %shown, "log file appeared, reading it from the beginning");
                    }
                    skip_existing = false;
                    ctx.metrics().source_up.set(1);
                    cur = Some(o);
                    open_failing = false;
                    backoff = ctx.poll;
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    // Gone: whatever appears there next is a new file.
                    skip_existing = false;
                    open_failing = false;
                    backoff = ctx.poll;
                }
                Err(e) => {
                    if !open_failing {
                        ctx.metrics().read_errors.inc();
                        tracing::warn!(path = %shown, error = %e, "cannot open log file, will retry with backoff");
                        open_failing = true;
                    }
                    backoff = next_backoff(backoff, ctx.poll);
                }
            }
            if ctx.shared.sleep(backoff) {
                break;
            }
            continue;
        };
        if !drain(o, &mut buf, &mut ctx, &shown) {
            backoff = next_backoff(backoff, ctx.poll);
            if ctx.shared.sleep(backoff) {
                break;
            }
            continue;
        }
        backoff = ctx.poll;
        // At end of file: has the path moved on?
        match look(path, o) {
            Ok(PathState::Same | PathState::Missing) => {}
            Ok(PathState::Truncated) => {
                tracing::info!(path = %shown, "log file truncated, reading it again from the beginning");
                ctx.metrics().rotated("truncate");
                // Lines written between our last read and logrotate's copy are in the
                // copy only.
                if !recover_from_copy(path, o, copies, &mut buf, &mut ctx, &shown) {
                    ctx.metrics().unrecovered.inc();
                    tracing::warn!(path = %shown, "no rotated copy holds the rest of the truncated log; lines written since the last read may be lost");
                }
                ctx.reader.finish_stream();
                o.tail.clear();
                match o.file.seek(SeekFrom::Start(0)) {
                    Ok(_) => o.offset = 0,
                    Err(e) => {
                        ctx.metrics().read_errors.inc();
                        tracing::warn!(path = %shown, error = %e, "cannot seek in the truncated log file; reopening it");
                        cur = None;
                        ctx.metrics().source_up.set(0);
                    }
                }
                continue;
            }
            Ok(PathState::Replaced(new)) => {
                // Counted first, so whoever sees the old file's last lines sees the rotation.
                ctx.metrics().rotated("rename");
                // Lines appended between our last read and the look belong to the old file.
                drain(o, &mut buf, &mut ctx, &shown);
                ctx.reader.finish_stream();
                tracing::info!(path = %shown, "log file rotated, reading the new file from the beginning");
                cur = Some(new);
                continue;
            }
            Err(e) => {
                if !open_failing {
                    ctx.metrics().read_errors.inc();
                    tracing::warn!(path = %shown, error = %e, "cannot look at the log file path");
                    open_failing = true;
                }
            }
        }
        if ctx.shared.sleep(ctx.poll) {
            break;
        }
    }
    ctx.reader.finish_stream();
    ctx.metrics().source_up.set(0);
}
