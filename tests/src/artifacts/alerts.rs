//! The alert rules: `alerts/src/*.yml` with `[[name]]` placeholders, rendered with the
//! values of `alerts/src/thresholds.yml` into the `alerts/*.yml` that vmalert loads.
//!
//! The thresholds live in one file so that an operator changes a number once and every rule,
//! annotation and runbook link follows; a rule file cannot hold variables itself (vmalert and
//! Prometheus reject unknown keys), hence the rendering step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde::Deserialize;

/// The thresholds' file name in `alerts/src/` (every other `.yml` there is a rule source).
pub const THRESHOLDS_FILE: &str = "thresholds.yml";

/// One entry of `alerts/src/thresholds.yml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Inserted verbatim where `[[name]]` stands (a number, a duration or a label matcher).
    pub value: serde_norway::Value,
    /// What the value means (shown in docs/runbook.md).
    pub description: String,
}

impl Threshold {
    /// The value as it is written into a rule.
    pub fn text(&self) -> Result<String> {
        Ok(match &self.value {
            serde_norway::Value::String(s) => s.clone(),
            serde_norway::Value::Number(n) => n.to_string(),
            serde_norway::Value::Bool(b) => b.to_string(),
            other => bail!("a threshold must be a number or a string, not {other:?}"),
        })
    }
}

/// The thresholds by name, in file order kept by name (BTreeMap: stable output).
pub type Thresholds = BTreeMap<String, Threshold>;

/// Reads a thresholds file; errors name the file (and serde's line and column).
pub fn read_thresholds(path: &Path) -> Result<Thresholds> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let t: Thresholds =
        serde_norway::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    for (name, th) in &t {
        th.text()
            .with_context(|| format!("{}: {name}", path.display()))?;
    }
    Ok(t)
}

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r"\[\[([a-z][a-z0-9_]*)\]\]").unwrap()
});

/// Replaces every `[[name]]` in `text` by its threshold; adds the names used to `used`.
/// An unknown name is an error naming the line.
pub fn render(
    text: &str,
    thresholds: &Thresholds,
    origin: &str,
    used: &mut BTreeSet<String>,
) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let mut last = 0;
        for c in PLACEHOLDER.captures_iter(line) {
            let (Some(whole), Some(name)) = (c.get(0), c.get(1)) else {
                continue;
            };
            let Some(th) = thresholds.get(name.as_str()) else {
                bail!(
                    "{origin}:{}: unknown threshold [[{}]] (not in the thresholds file)",
                    n + 1,
                    name.as_str()
                );
            };
            out.push_str(&line[last..whole.start()]);
            out.push_str(&th.text()?);
            used.insert(name.as_str().to_string());
            last = whole.end();
        }
        out.push_str(&line[last..]);
    }
    Ok(out)
}

/// Rendered rule files as (file name, text), and the threshold names they used.
pub type Rendered = (Vec<(String, String)>, BTreeSet<String>);

/// The rule files rendered from `src_dir` (`NAME.yml` → `NAME.yml`), with a header saying
/// where they come from, and the names of the thresholds used.
pub fn render_dir(src_dir: &Path, thresholds: &Thresholds) -> Result<Rendered> {
    let names = super::yml_sources(src_dir, THRESHOLDS_FILE)?;
    let mut used = BTreeSet::new();
    let mut files = Vec::new();
    for name in names {
        let path = src_dir.join(&name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let body = render(&text, thresholds, &format!("alerts/src/{name}"), &mut used)?;
        let header = format!(
            "# Generated from alerts/src/{name} and alerts/src/thresholds.yml by scripts/generate.sh:\n\
             # edit those and run it again, not this file.\n"
        );
        files.push((name, header + &body));
    }
    Ok((files, used))
}

static ALERT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r"^\s*- alert:\s*([A-Za-z0-9_]+)").unwrap()
});

/// Which alerts of the source files use each threshold (a placeholder belongs to the alert
/// whose `- alert:` line it follows).
pub fn usage(src_dir: &Path) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in super::yml_sources(src_dir, THRESHOLDS_FILE)? {
        let path = src_dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut alert: Option<String> = None;
        for line in text.lines() {
            if let Some(c) = ALERT_LINE.captures(line) {
                alert = c.get(1).map(|m| m.as_str().to_string());
            }
            for c in PLACEHOLDER.captures_iter(line) {
                if let (Some(name), Some(a)) = (c.get(1), &alert) {
                    uses.entry(name.as_str().to_string())
                        .or_default()
                        .insert(a.clone());
                }
            }
        }
    }
    Ok(uses)
}

/// docs/thresholds.md: every threshold with its default, meaning and the alerts using it.
pub fn thresholds_doc(
    thresholds: &Thresholds,
    uses: &BTreeMap<String, BTreeSet<String>>,
) -> Result<String> {
    let mut out = String::from(
        "# Alert thresholds\n\n\
         Generated from `alerts/src/thresholds.yml` by `scripts/generate.sh`: edit that file, not this\n\
         one. Each value is inserted where the rule sources (`alerts/src/*.yml`) name it; how to\n\
         render the rules with your own values is in [runbook.md](runbook.md#changing-thresholds).\n\n\
         | name | default | meaning | used by |\n|---|---|---|---|\n",
    );
    for (name, th) in thresholds {
        let used = match uses.get(name) {
            Some(a) if name == "runbook_url" => format!("every alert ({})", a.len()),
            Some(a) => a
                .iter()
                .map(|a| format!("[{a}](runbook.md#{})", a.to_lowercase()))
                .collect::<Vec<_>>()
                .join(", "),
            None => String::new(),
        };
        out.push_str(&format!(
            "| `{name}` | `{}` | {} | {used} |\n",
            th.text()?.replace('|', "\\|"),
            th.description.replace('|', "\\|")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th(pairs: &[(&str, &str)]) -> Thresholds {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Threshold {
                        value: serde_norway::Value::String(v.to_string()),
                        description: String::new(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn placeholders_inside_range_brackets_and_unknown_names() {
        let t = th(&[("w", "30m"), ("n", "5")]);
        let mut used = BTreeSet::new();
        let out = render(
            "delta(x[[[w]]]) > [[n]] {{ $labels.a }}\n",
            &t,
            "f",
            &mut used,
        )
        .unwrap_or_default();
        assert_eq!(out, "delta(x[30m]) > 5 {{ $labels.a }}\n");
        assert_eq!(used.len(), 2);
        let err = render("a\nb [[nope]]\n", &t, "f.yml", &mut used)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("f.yml:2: unknown threshold [[nope]] (not in the thresholds file)")
        );
    }
}
