//! The generated files of the repository (alert rules, docs/thresholds.md and the
//! dashboards today; the dashboards' console pages and the Kubernetes objects built from
//! dashboards/ and alerts/ join here), produced by one function so that `scripts/generate.sh` writes them and a
//! test proves the committed copies are what it would write.

pub mod alerts;
pub mod dashboards;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Every generated file: its path relative to the workspace root and its content.
pub fn generate(root: &Path) -> Result<Vec<(PathBuf, String)>> {
    let thresholds =
        alerts::read_thresholds(&root.join("alerts/src").join(alerts::THRESHOLDS_FILE))?;
    let (files, used) = alerts::render_dir(&root.join("alerts/src"), &thresholds)?;
    let unused: Vec<_> = thresholds
        .keys()
        .filter(|k| !used.contains(*k))
        .cloned()
        .collect();
    anyhow::ensure!(
        unused.is_empty(),
        "alerts/src/thresholds.yml: not used by any rule: {}",
        unused.join(", ")
    );
    let doc = alerts::thresholds_doc(&thresholds, &alerts::usage(&root.join("alerts/src"))?)?;
    let mut out: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|(name, text)| (PathBuf::from("alerts").join(name), text))
        .collect();
    out.push((PathBuf::from("docs/thresholds.md"), doc));
    for (name, text) in dashboards::render_dir(&root.join("dashboards/src"))? {
        out.push((PathBuf::from("dashboards").join(name), text));
    }
    Ok(out)
}

/// Writes every generated file under `root`; returns the paths that changed.
pub fn write(root: &Path) -> Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for (rel, text) in generate(root)? {
        let path = root.join(&rel);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            changed.push(rel);
        }
    }
    Ok(changed)
}

/// The generated files whose committed copy differs from what [`generate`] makes.
pub fn stale(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(generate(root)?
        .into_iter()
        .filter(|(rel, text)| {
            std::fs::read_to_string(root.join(rel)).ok().as_deref() != Some(text.as_str())
        })
        .map(|(rel, _)| rel)
        .collect())
}
