//! The `metric` definitions of a Dovecot config (dovecot.conf with its `!include`s, or
//! `doveconf -n` output), in 2.3 and 2.4 syntax. They are what turns a flattened DUMP name
//! (`imap_command_SELECT_OK`) back into labels and quantized buckets into histograms.
//!
//! Only the structure matters here: sections (`name [arg] {` … `}`), `key = value`
//! settings, comments and `!include` / `!include_try`. Other settings are skipped.

use std::path::{Path, PathBuf};

/// How a `group_by` field splits events into sub-metrics.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupMethod {
    /// One sub-metric per value (`field` or `field:discrete`).
    Discrete,
    /// Ranges `(-inf, base^min]`, `(base^min, base^(min+1)]` … `(base^max, +inf)`.
    Exponential {
        /// Smallest exponent.
        min: i32,
        /// Largest exponent.
        max: i32,
        /// 2 or 10.
        base: u32,
    },
    /// Ranges `(-inf, min]`, `(min, min+step]` … `(max, +inf)`.
    Linear {
        /// Lower edge.
        min: i64,
        /// Upper edge.
        max: i64,
        /// Width of a range.
        step: i64,
    },
}

impl GroupMethod {
    /// The finite upper bounds of the ranges, in the field's own unit.
    pub fn bounds(&self) -> Vec<f64> {
        match *self {
            GroupMethod::Discrete => Vec::new(),
            GroupMethod::Exponential { min, max, base } => {
                (min..=max).map(|e| f64::from(base).powi(e)).collect()
            }
            GroupMethod::Linear { min, max, step } => {
                let mut v = Vec::new();
                let mut x = min;
                while x <= max && step > 0 && v.len() < 10_000 {
                    v.push(x as f64);
                    x = x.saturating_add(step);
                }
                v
            }
        }
    }
}

/// One `group_by` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupBy {
    /// The event field (`cmd_name`, `duration`).
    pub field: String,
    /// How it splits.
    pub method: GroupMethod,
}

/// One `metric NAME { … }` block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricDef {
    /// The metric's name.
    pub name: String,
    /// The event filter (kept as text).
    pub filter: String,
    /// Extra numeric fields aggregated besides the duration.
    pub fields: Vec<String>,
    /// The `group_by` levels, in order.
    pub group_by: Vec<GroupBy>,
    /// Free text for the help string.
    pub description: String,
    /// Where the block starts: file and 1-based line.
    pub origin: (PathBuf, usize),
}

/// A config that cannot be used, naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", file.display())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when the file itself could not be read).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// `!include` depth beyond which a config is taken to include itself.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads the metric definitions of the config at `path`, following its includes.
pub fn load(path: &Path) -> Result<Vec<MetricDef>, ConfigError> {
    let mut out = Vec::new();
    let mut stack = Vec::new();
    read_file(path, false, 0, &mut stack, &mut out)?;
    Ok(out)
}

/// Parses config text (no includes are followed; an `!include` line is an error naming it).
pub fn parse_str(text: &str, name: &Path) -> Result<Vec<MetricDef>, ConfigError> {
    let mut out = Vec::new();
    let mut stack = Vec::new();
    parse_text(text, name, None, &mut stack, &mut out)?;
    all_closed(&stack, name)?;
    Ok(out)
}

/// At the end of the top-level text every section must be closed.
fn all_closed(stack: &[Open], file: &Path) -> Result<(), ConfigError> {
    match stack.last() {
        Some(open) => Err(err(file, open.line, "section not closed")),
        None => Ok(()),
    }
}

fn err(file: &Path, line: usize, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// An open section while parsing.
#[derive(Debug)]
struct Open {
    kind: String,
    arg: String,
    line: usize,
    /// Index into the output when this is a `metric` block.
    metric: Option<usize>,
    /// A 2.4 `group_by NAME {` block: its entry index in the metric.
    group: Option<usize>,
    /// A 2.4 `method KIND {` block: its settings.
    method: Option<(String, Vec<(String, String)>)>,
}

fn read_file(
    path: &Path,
    optional: bool,
    depth: usize,
    stack: &mut Vec<Open>,
    out: &mut Vec<MetricDef>,
) -> Result<(), ConfigError> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(err(path, 0, "includes nested too deep (a loop?)"));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(path, 0, format!("cannot read: {e}"))),
    };
    parse_text(&text, path, Some(depth), stack, out)?;
    if depth == 0 {
        all_closed(stack, path)?;
    }
    Ok(())
}

fn parse_text(
    text: &str,
    file: &Path,
    depth: Option<usize>,
    stack: &mut Vec<Open>,
    out: &mut Vec<MetricDef>,
) -> Result<(), ConfigError> {
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line
            .strip_prefix("!include_try")
            .map(|r| (r, true))
            .or_else(|| line.strip_prefix("!include").map(|r| (r, false)))
        {
            let (arg, optional) = rest;
            let Some(depth) = depth else {
                return Err(err(file, n, "!include in text read without its file"));
            };
            let arg = unquote(arg.trim());
            for inc in expand_include(file, arg) {
                read_file(&inc, optional, depth + 1, stack, out)?;
            }
            continue;
        }
        if line == "}" {
            let Some(open) = stack.pop() else {
                return Err(err(file, n, "`}` without an open section"));
            };
            close_section(open, out, file)?;
            continue;
        }
        if let Some(head) = line.strip_suffix('{') {
            let mut words = head.split_whitespace();
            let kind = words.next().unwrap_or("").to_string();
            let arg = unquote(words.collect::<Vec<_>>().join(" ").trim()).to_string();
            open_section(kind, arg, n, stack, out, file)?;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(file, n, "expected `key = value`, `name {` or `}`"));
        };
        setting(key.trim(), unquote(value.trim()), stack, out, file, n)?;
    }
    Ok(())
}

fn strip_comment(line: &str) -> &str {
    // `#` starts a comment unless it is inside quotes.
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return line.get(..i).unwrap_or(line),
            _ => {}
        }
    }
    line
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// The files an `!include` names: relative to the including file's directory, with `*`
/// and `?` in the last component expanded (sorted, as Dovecot reads them).
fn expand_include(from: &Path, arg: &str) -> Vec<PathBuf> {
    let base = from.parent().unwrap_or(Path::new("."));
    let path = base.join(arg);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return vec![path];
    };
    if !name.contains(['*', '?']) {
        return vec![path];
    }
    let dir = path.parent().unwrap_or(base);
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|f| glob_match(name, f)))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

fn glob_match(pat: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.split_first(), s.split_first()) {
            (None, None) => true,
            (Some((b'*', rest)), _) => go(rest, s) || (!s.is_empty() && go(p, &s[1..])),
            (Some((b'?', rest)), Some((_, srest))) => go(rest, srest),
            (Some((a, rest)), Some((b, srest))) if a == b => go(rest, srest),
            _ => false,
        }
    }
    go(pat.as_bytes(), s.as_bytes())
}

fn open_section(
    kind: String,
    arg: String,
    line: usize,
    stack: &mut Vec<Open>,
    out: &mut Vec<MetricDef>,
    file: &Path,
) -> Result<(), ConfigError> {
    let parent_metric = stack.last().and_then(|o| o.metric);
    let mut open = Open {
        kind,
        arg,
        line,
        metric: None,
        group: None,
        method: None,
    };
    let top = stack.is_empty();
    match open.kind.as_str() {
        "metric" if top => {
            if open.arg.is_empty() {
                return Err(err(file, line, "metric without a name"));
            }
            out.push(MetricDef {
                name: open.arg.clone(),
                origin: (file.to_path_buf(), line),
                ..MetricDef::default()
            });
            open.metric = Some(out.len() - 1);
        }
        "group_by" if parent_metric.is_some() => {
            let Some(m) = parent_metric.and_then(|i| out.get_mut(i)) else {
                return Err(err(file, line, "group_by outside a metric"));
            };
            m.group_by.push(GroupBy {
                field: open.arg.clone(),
                method: GroupMethod::Discrete,
            });
            open.metric = parent_metric;
            open.group = Some(m.group_by.len() - 1);
        }
        "method" if stack.last().is_some_and(|o| o.group.is_some()) => {
            open.metric = parent_metric;
            open.group = stack.last().and_then(|o| o.group);
            open.method = Some((open.arg.clone(), Vec::new()));
        }
        _ => {}
    }
    stack.push(open);
    Ok(())
}

fn close_section(open: Open, out: &mut [MetricDef], file: &Path) -> Result<(), ConfigError> {
    let Some((kind, settings)) = open.method else {
        return Ok(());
    };
    let get = |k: &str| settings.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let num = |k: &str| -> Result<i64, ConfigError> {
        get(k)
            .ok_or_else(|| err(file, open.line, format!("method {kind} needs {k}")))?
            .parse()
            .map_err(|_| {
                err(
                    file,
                    open.line,
                    format!("method {kind}: {k} is not a number"),
                )
            })
    };
    let method = match kind.as_str() {
        "discrete" => GroupMethod::Discrete,
        "exponential" => {
            let base = num("base")?;
            let (min, max) = (num("min_magnitude")?, num("max_magnitude")?);
            exponential(min, max, base).map_err(|r| err(file, open.line, r))?
        }
        "linear" => {
            linear(num("min")?, num("max")?, num("step")?).map_err(|r| err(file, open.line, r))?
        }
        other => {
            return Err(err(
                file,
                open.line,
                format!("unknown group_by method {other:?}"),
            ));
        }
    };
    if let (Some(m), Some(g)) = (open.metric, open.group)
        && let Some(entry) = out.get_mut(m).and_then(|m| m.group_by.get_mut(g))
    {
        entry.method = method;
    }
    Ok(())
}

fn exponential(min: i64, max: i64, base: i64) -> Result<GroupMethod, String> {
    if base != 2 && base != 10 {
        return Err(format!("exponential base must be 2 or 10, not {base}"));
    }
    let (Ok(min), Ok(max)) = (i32::try_from(min), i32::try_from(max)) else {
        return Err("exponential magnitude out of range".to_string());
    };
    if min > max || !(0..=64).contains(&min) || max > 64 {
        return Err(format!("exponential magnitudes {min}..{max} out of range"));
    }
    Ok(GroupMethod::Exponential {
        min,
        max,
        base: base as u32,
    })
}

fn linear(min: i64, max: i64, step: i64) -> Result<GroupMethod, String> {
    if step <= 0 || min > max || (max - min) / step > 10_000 {
        return Err(format!("linear {min}:{max}:{step} is not a usable range"));
    }
    Ok(GroupMethod::Linear { min, max, step })
}

/// A 2.3 `group_by` value: `a b:exponential:1:6:10 c:linear:0:100:10`.
fn parse_legacy_group_by(value: &str) -> Result<Vec<GroupBy>, String> {
    value
        .split_whitespace()
        .map(|item| {
            let parts: Vec<&str> = item.split(':').collect();
            let num = |i: usize| -> Result<i64, String> {
                parts
                    .get(i)
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format!("group_by {item:?}: bad number"))
            };
            let method = match parts.get(1).copied() {
                None | Some("discrete") if parts.len() <= 2 => GroupMethod::Discrete,
                Some("exponential") if parts.len() == 5 => exponential(num(2)?, num(3)?, num(4)?)?,
                Some("linear") if parts.len() == 5 => linear(num(2)?, num(3)?, num(4)?)?,
                _ => return Err(format!("group_by {item:?}: unknown form")),
            };
            Ok(GroupBy {
                field: parts.first().copied().unwrap_or("").to_string(),
                method,
            })
        })
        .collect()
}

fn setting(
    key: &str,
    value: &str,
    stack: &mut [Open],
    out: &mut [MetricDef],
    file: &Path,
    line: usize,
) -> Result<(), ConfigError> {
    let Some(open) = stack.last_mut() else {
        return Ok(());
    };
    if let Some((_, settings)) = &mut open.method {
        settings.push((key.to_string(), value.to_string()));
        return Ok(());
    }
    if open.kind != "metric" {
        return Ok(());
    }
    let Some(m) = open.metric.and_then(|i| out.get_mut(i)) else {
        return Ok(());
    };
    // 2.4 spells them metric_filter, metric_fields…; 2.3 without the prefix.
    match key.strip_prefix("metric_").unwrap_or(key) {
        "filter" => m.filter = value.to_string(),
        "fields" => m.fields = value.split_whitespace().map(str::to_string).collect(),
        "description" => m.description = value.to_string(),
        "group_by" => {
            m.group_by = parse_legacy_group_by(value).map_err(|r| err(file, line, r))?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
