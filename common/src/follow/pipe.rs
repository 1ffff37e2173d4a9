//! Following a FIFO and stdin.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileTypeExt;
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
        // Read-write: a reader is always present, so writers opening with O_NONBLOCK
        // succeed and the read never sees EOF between two writers.
        let mut f = match OpenOptions::new().read(true).write(true).open(path) {
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
        warned = false;
        ctx.metrics().source_up.set(1);
        tracing::info!(path = %shown, "reading log FIFO");
        while !ctx.shared.stopping() {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => ctx.reader.feed(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
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
