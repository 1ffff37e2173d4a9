//! External commands run by collectors (`qshape`, `doveadm …`): split from a flag value,
//! run with stdin closed under a deadline, killed when it passes, and their output kept
//! only on success.

use std::time::Duration;

use anyhow::{Context, bail};

/// Splits a command line on white space (no shell quoting: flags name a program and its
/// plain arguments).
pub fn split(s: &str) -> anyhow::Result<Vec<String>> {
    let v: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    if v.is_empty() {
        bail!("empty command");
    }
    Ok(v)
}

/// Runs `argv` and returns its standard output. Fails, naming the command, when it cannot
/// start, exits non-zero (with its standard error in the message) or runs past `timeout`
/// (it is killed then).
pub async fn output(argv: &[String], timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let (prog, args) = argv.split_first().context("empty command")?;
    let out = tokio::time::timeout(
        timeout.max(Duration::from_millis(100)),
        tokio::process::Command::new(prog)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .with_context(|| {
        format!(
            "{} did not finish within {:.1} s and was killed",
            argv.join(" "),
            timeout.as_secs_f64()
        )
    })?
    .with_context(|| format!("running {}", argv.join(" ")))?;
    if !out.status.success() {
        return Err(exit_error(argv, out.status, &out.stderr));
    }
    Ok(out.stdout)
}

/// Whether `program` names an executable, as a path or on `PATH`: lets a collector pick
/// another source at start when a helper program is not installed (a sidecar image).
pub fn runnable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let exec = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return exec(std::path::Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| exec(&d.join(program))))
}

/// The error of a command that exited non-zero: the command, its status and its standard
/// error.
pub fn exit_error(
    argv: &[String],
    status: std::process::ExitStatus,
    stderr: &[u8],
) -> anyhow::Error {
    anyhow::anyhow!(
        "{} exited with {}: {}",
        argv.join(" "),
        status,
        String::from_utf8_lossy(stderr).trim()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn runnable_programs() {
        assert!(runnable("sh"));
        assert!(runnable("/bin/sh"));
        assert!(!runnable("/nonexistent/ftpwho"));
        assert!(!runnable("no-such-program-here"));
        // A directory or a file without the execute bit is not a program.
        assert!(!runnable("/tmp"));
        assert!(!runnable(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/Cargo.toml"
        )));
    }

    #[tokio::test]
    async fn output_errors_name_the_command() {
        let ok = output(&split("printf a\\tb").unwrap(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(ok, b"a\tb");
        let e = output(&split("sh -c exit\\ 3").unwrap(), Duration::from_secs(5)).await;
        assert!(e.is_err());
        let e = output(&split("false").unwrap(), Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("false exited with"), "{e}");
        let e = output(&split("sleep 5").unwrap(), Duration::from_millis(200))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("sleep 5 did not finish within 0.2 s"), "{e}");
        let e = output(&split("/nonexistent/x").unwrap(), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("running /nonexistent/x"), "{e:#}");
        assert!(split("  ").is_err());
    }
}
