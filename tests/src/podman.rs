//! Podman for the image tests: builds the exporters' images with `scripts/build-image.sh` and
//! runs containers on the host network, removed when their guard drops.
//!
//! Podman here needs runc (crun fails on this machine's cgroups and rlimits) and a
//! containers.conf without default ulimits; [`Podman::new`] writes one to a temp dir and
//! points `CONTAINERS_CONF` at it for every command, so the host's configuration is untouched.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};

use crate::exporter::{target_dir, workspace_root};

/// A podman command line with this harness's configuration.
pub struct Podman {
    dir: tempfile::TempDir,
}

/// An image built by `scripts/build-image.sh`.
#[derive(Debug, Clone)]
pub struct Image {
    /// Full name with tag, e.g. `localhost/mail-exporters/postfix-exporter:0.1.0`.
    pub name: String,
    /// Size in bytes as podman reports it.
    pub size: u64,
}

impl Podman {
    /// A podman with its own containers.conf.
    pub fn new() -> Result<Podman> {
        let dir = crate::temp_dir("podman")?;
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = []\n",
        )?;
        Ok(Podman { dir })
    }

    /// `podman --runtime=runc ARGS`, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .arg("--runtime=runc")
            .args(args);
        cmd
    }

    /// Runs `podman ARGS` and returns its stdout; fails with its stderr when it fails.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command(args)
            .output()
            .with_context(|| format!("running podman {args:?} (apt-get install podman runc)"))?;
        check(args, &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Builds EXPORTER's image with `scripts/build-image.sh` under the tag `test`. With
    /// `E2E_NO_BUILD` set (scripts/test.sh builds the image before the tests) the static
    /// binary is taken as built: cargo run from inside a test sees another environment and
    /// would build it all again.
    pub fn build_image(&self, exporter: &str) -> Result<Image> {
        let root = workspace_root();
        let no_build = crate::env_flag("E2E_NO_BUILD");
        let out = Command::new("bash")
            .arg(root.join("scripts/build-image.sh"))
            .args(["--version", "test"])
            .args(no_build.then_some("--no-build"))
            .arg(exporter)
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", target_dir())
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .output()
            .context("running scripts/build-image.sh")?;
        check(&["scripts/build-image.sh", exporter], &out)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        // "NAME SIZE bytes (N MB)"
        let line = stdout
            .lines()
            .find(|l| l.contains(exporter))
            .with_context(|| format!("build-image printed no line for {exporter}: {stdout}"))?;
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default().to_string();
        let size = words
            .next()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no size in {line:?}"))?;
        Ok(Image { name, size })
    }

    /// `podman image inspect` of IMAGE as JSON (the first and only element).
    pub fn inspect(&self, image: &str) -> Result<serde_json::Value> {
        let text = self.run(&["image", "inspect", image])?;
        let mut all: Vec<serde_json::Value> = serde_json::from_str(&text)?;
        all.pop().context("podman image inspect returned nothing")
    }

    /// The regular files in IMAGE's filesystem (paths without a leading `/`), from the tar
    /// stream of a created, never started, container.
    pub fn files(&self, image: &str) -> Result<Vec<String>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("fs.tar");
        let id = self.run(&["create", image])?.trim().to_string();
        let exported = self.run(&["export", "-o", &path.display().to_string(), &id]);
        let _ = self.run(&["rm", "-f", &id]);
        exported?;
        let list = Command::new("tar")
            .args(["--list", "--verbose", "-f"])
            .arg(&path)
            .output()?;
        check(&["tar", "--list"], &list)?;
        Ok(String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|l| l.starts_with('-'))
            .filter_map(|l| l.split_whitespace().last())
            .map(|p| p.trim_start_matches("./").to_string())
            .collect())
    }

    /// Starts a detached container `podman run -d --network=host RUN_ARGS IMAGE ARGS`.
    pub fn start(&self, run_args: &[&str], image: &str, args: &[&str]) -> Result<Container<'_>> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut all = vec!["run", "-d", "--name", &name, "--network=host"];
        all.extend_from_slice(run_args);
        all.push(image);
        all.extend_from_slice(args);
        self.run(&all)?;
        Ok(Container { podman: self, name })
    }
}

/// A running (or exited) container; removed on drop.
pub struct Container<'a> {
    podman: &'a Podman,
    name: String,
}

impl Container<'_> {
    /// What the container wrote to stdout and to stderr so far.
    pub fn logs(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let out = self.podman.command(&["logs", &self.name]).output()?;
        check(&["logs", &self.name], &out)?;
        Ok((out.stdout, out.stderr))
    }

    /// `podman stop -t GRACE`, then the exit code the container's process returned.
    pub fn stop(&self, grace_seconds: u32) -> Result<i64> {
        self.podman
            .run(&["stop", "-t", &grace_seconds.to_string(), &self.name])?;
        let code = self
            .podman
            .run(&["inspect", "--format", "{{.State.ExitCode}}", &self.name])?;
        code.trim()
            .parse()
            .with_context(|| format!("exit code {code:?}"))
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self
            .podman
            .command(&["rm", "-f", "-t", "2", &self.name])
            .output();
    }
}

fn check(what: &[&str], out: &Output) -> Result<()> {
    if !out.status.success() {
        bail!(
            "{what:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(())
}
