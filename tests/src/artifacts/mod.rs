//! The generated files of the repository (alert rules, docs/thresholds.md, the dashboards
//! and their console pages, and the Kubernetes objects built from both), produced by one
//! function so that `scripts/generate.sh` writes them and a test proves the committed copies
//! are what it would write.

pub mod alerts;
pub mod consoles;
pub mod dashboards;
pub mod k8s;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The `.yml` file names of `dir` but `skip`, sorted: the sources a generator renders.
pub fn yml_sources(dir: &Path, skip: &str) -> Result<Vec<String>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") && n != skip)
        .collect();
    names.sort();
    Ok(names)
}

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
        .iter()
        .map(|(name, text)| (PathBuf::from("alerts").join(name), text.clone()))
        .collect();
    out.push((PathBuf::from("docs/thresholds.md"), doc));
    let rendered = dashboards::render_dir(&root.join("dashboards/src"))?;
    let mut dashboard_texts = Vec::new();
    for (stem, json) in &rendered {
        let text = serde_json::to_string_pretty(json)? + "\n";
        dashboard_texts.push((stem.clone(), text.clone()));
        out.push((
            PathBuf::from("dashboards").join(format!("{stem}.json")),
            text,
        ));
        out.push((
            PathBuf::from("dashboards/consoles").join(format!("{stem}.html")),
            consoles::render(json).with_context(|| format!("console page of {stem}"))?,
        ));
    }
    out.push((
        PathBuf::from("dashboards/consoles/index.html"),
        consoles::index(&rendered),
    ));
    out.push((
        PathBuf::from("dashboards/console_libraries/mail.lib"),
        consoles::library(),
    ));
    out.extend(k8s::generate(&files, &dashboard_texts)?);
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
