//! Following a FIFO and stdin.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::{Ctx, READ_CHUNK};

/// Wakes a follower blocked reading `path` so it notices it should stop.
///
/// An empty line is written; empty lines are skipped by the reader. Opening
/// read-write never blocks on Linux, even when the follower is already gone.
pub(super) fn wake_fifo(path: &Path) {
    let is_fifo = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo());
    if is_fifo && let Ok(mut f) = OpenOptions::new().read(true).write(true).open(path) {
        let _ = f.write_all(b"\n");
    }
}

/// Opens the FIFO without blocking: read-write when allowed (a reader is always present,
/// so writers opening with `O_NONBLOCK`, like ProFTPd, never fail with `ENXIO`), read-only
/// when the exporter may not write to it.
fn open_fifo(path: &Path) -> std::io::Result<(std::fs::File, bool)> {
    let rw = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    match rw {
        Ok(f) => Ok((f, true)),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map(|f| (f, false)),
        Err(e) => Err(e),
    }
}

/// The identity of what the path names now, if it is a FIFO.
fn fifo_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.file_type().is_fifo())
        .map(|m| (m.dev(), m.ino()))
}

/// Whether the path now names a different FIFO than `id`.
fn replaced(path: &Path, id: Option<(u64, u64)>) -> bool {
    fifo_id(path).is_some_and(|now| Some(now) != id)
}

pub(super) fn run_fifo(path: &Path, mut ctx: Ctx) {
    let shown = path.display().to_string();
    ctx.shared.set_started();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut warned = false;
    while !ctx.shared.stopping() {
        let is_fifo = match std::fs::metadata(path) {
            Ok(m) => m.file_type().is_fifo(),
            Err(e) => {
                if !warned {
                    tracing::warn!(path = %shown, error = %e, "log FIFO not available yet, waiting for it");
                    warned = true;
                }
                if ctx.shared.sleep(ctx.poll) {
                    break;
                }
                continue;
            }
        };
        if !is_fifo {
            if !warned {
                ctx.metrics().read_errors.inc();
                tracing::warn!(path = %shown, "log source path is not a FIFO, waiting for one");
                warned = true;
            }
            if ctx.shared.sleep(ctx.poll) {
                break;
            }
            continue;
        }
        let (mut f, read_write) = match open_fifo(path) {
            Ok(f) => f,
            Err(e) => {
                if !warned {
                    ctx.metrics().read_errors.inc();
                    tracing::warn!(path = %shown, error = %e, "cannot open log FIFO, will retry");
                    warned = true;
                }
                if ctx.shared.sleep(ctx.poll) {
                    break;
                }
                continue;
            }
        };
        let id = f.metadata().ok().map(|m| (m.dev(), m.ino()));
        warned = false;
        ctx.metrics().source_up.set(1);
        if read_write {
            tracing::info!(path = %shown, "reading log FIFO");
        } else {
            tracing::info!(path = %shown, "reading log FIFO read-only (no write permission): a writer that opens it with O_NONBLOCK while no reader is there fails");
        }
        while !ctx.shared.stopping() {
            match f.read(&mut buf) {
                Ok(n) if n > 0 => ctx.reader.feed(buf.get(..n).unwrap_or_default()),
                // Read-only: no writer at the moment. Read-write: cannot happen.
                Ok(_) => {
                    if replaced(path, id) || ctx.shared.sleep(ctx.poll) {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Nothing to read: if the path names another FIFO now (deleted and
                    // created again), new writers use that one; follow them. A path
                    // with nothing behind it keeps the old FIFO: writers holding it open
                    // still write there.
                    if replaced(path, id) {
                        tracing::info!(path = %shown, "log FIFO was replaced, opening the new one");
                        break;
                    }
                    if ctx.shared.sleep(ctx.poll) {
                        break;
                    }
                }
                Err(e) => {
                    ctx.metrics().read_errors.inc();
                    tracing::warn!(path = %shown, error = %e, "error reading log FIFO, reopening it");
                    ctx.shared.sleep(ctx.poll);
                    break;
                }
            }
        }
        ctx.reader.finish_stream();
        ctx.metrics().source_up.set(0);
    }
}

pub(super) fn run_stdin(mut ctx: Ctx) {
    ctx.metrics().source_up.set(1);
    ctx.shared.set_started();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut stdin = std::io::stdin().lock();
    while !ctx.shared.stopping() {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => ctx.reader.feed(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                ctx.metrics().read_errors.inc();
                tracing::warn!(error = %e, "error reading stdin, stopping");
                break;
            }
        }
    }
    ctx.reader.finish_stream();
    ctx.metrics().source_up.set(0);
    tracing::info!("end of log lines on stdin");
}
