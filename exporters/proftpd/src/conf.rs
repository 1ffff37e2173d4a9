//! What the exporter reads from proftpd.conf: the `LogFormat` directives (name and format
//! string) and the `ExtendedLog` directives (path, command classes, format name), following
//! `Include` (a file, a directory, or a `*` pattern in the last component).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The log settings of a config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConfig {
    /// `LogFormat` name → format string (unquoted, `\"` unescaped).
    pub formats: BTreeMap<String, String>,
    /// The `ExtendedLog` directives, in config order.
    pub extended_logs: Vec<ExtendedLogDirective>,
}

/// One `ExtendedLog` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedLogDirective {
    /// The path (or `syslog:LEVEL`).
    pub path: String,
    /// The command classes, upper-cased (`ALL` when the directive names none).
    pub classes: Vec<String>,
    /// The format name (`default` when the directive names none).
    pub format: String,
}

/// The classes `ALL` stands for (every class but `EXIT`).
const ALL: [&str; 9] = [
    "AUTH", "INFO", "DIRS", "READ", "WRITE", "MISC", "SEC", "SSH", "SFTP",
];

impl ExtendedLogDirective {
    /// The classes with `ALL` spelled out.
    pub fn expanded_classes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.classes {
            if c == "ALL" {
                out.extend(ALL.iter().map(|s| s.to_string()));
            } else if c != "NONE" {
                out.push(c.clone());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A config that cannot be read, naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", file.display())]
pub struct ConfError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0: the file itself).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// `Include` depth beyond which a config is taken to include itself.
const MAX_DEPTH: usize = 16;

/// Reads the log settings of the config at `path`, its includes followed.
pub fn load(path: &Path) -> Result<LogConfig, ConfError> {
    let mut out = LogConfig::default();
    load_into(path, 0, &mut out)?;
    Ok(out)
}

fn load_into(path: &Path, depth: usize, out: &mut LogConfig) -> Result<(), ConfError> {
    let err = |line: usize, reason: String| ConfError {
        file: path.to_path_buf(),
        line,
        reason,
    };
    if depth > MAX_DEPTH {
        return Err(err(
            0,
            "Include nested too deep (does it include itself?)".into(),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(0, e.to_string()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(k, r)| (k, r.trim()));
        match key.to_ascii_lowercase().as_str() {
            "logformat" => {
                let (name, fmt) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| err(i + 1, "LogFormat needs a name and a format".into()))?;
                out.formats.insert(
                    name.to_string(),
                    unquote(fmt.trim()).map_err(|r| err(i + 1, r))?,
                );
            }
            "extendedlog" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let Some(path) = words.first() else {
                    return Err(err(i + 1, "ExtendedLog needs a path".into()));
                };
                let classes = words.get(1).map_or_else(
                    || vec!["ALL".to_string()],
                    |c| {
                        c.split(',')
                            .map(|x| x.trim().to_ascii_uppercase())
                            .collect()
                    },
                );
                out.extended_logs.push(ExtendedLogDirective {
                    path: path.to_string(),
                    classes,
                    format: words.get(2).copied().unwrap_or("default").to_string(),
                });
            }
            "include" => {
                for p in include_targets(base, rest).map_err(|r| err(i + 1, r))? {
                    load_into(&p, depth + 1, out)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A format string without its quotes, with `\"` and `\\` unescaped.
fn unquote(s: &str) -> Result<String, String> {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return Ok(s.to_string());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => return Err("format ends with a backslash".into()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// The files an `Include` names: a file, every file of a directory, or the files whose
/// names match a `*` pattern in the last component; sorted.
fn include_targets(base: &Path, arg: &str) -> Result<Vec<PathBuf>, String> {
    let arg = arg.trim().trim_matches('"');
    let p = if Path::new(arg).is_absolute() {
        PathBuf::from(arg)
    } else {
        base.join(arg)
    };
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    if name.contains('*') {
        let dir = p.parent().unwrap_or(Path::new("."));
        let (pre, post) = name.split_once('*').unwrap_or((&name, ""));
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len() {
                    out.push(e.path());
                }
            }
        }
    } else if p.is_dir() {
        let rd = std::fs::read_dir(&p).map_err(|e| format!("Include {}: {e}", p.display()))?;
        out.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    } else {
        out.push(p);
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formats_logs_and_includes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(
            dir.path().join("proftpd.conf"),
            "ServerName \"x\"\n\
             LogFormat default \"%h %l %u %t \\\"%r\\\" %s %b\"\n\
             LogFormat auth    \"%v [%P] %h %t \\\"%r\\\" %s\"\n\
             ExtendedLog /var/log/proftpd/auth.log AUTH auth\n\
             ExtendedLog /var/log/proftpd/paranoid.log\n\
             Include conf.d/\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("conf.d/metrics.conf"),
            "LogFormat metrics \"%m %s %b\"\nExtendedLog /var/log/proftpd/metrics.log ALL metrics\n",
        )
        .unwrap();
        let c = load(&dir.path().join("proftpd.conf")).unwrap();
        assert_eq!(c.formats["default"], "%h %l %u %t \"%r\" %s %b");
        assert_eq!(c.formats["auth"], "%v [%P] %h %t \"%r\" %s");
        assert_eq!(c.formats["metrics"], "%m %s %b");
        let logs: Vec<(&str, &str)> = c
            .extended_logs
            .iter()
            .map(|d| (d.path.as_str(), d.format.as_str()))
            .collect();
        assert_eq!(
            logs,
            [
                ("/var/log/proftpd/auth.log", "auth"),
                ("/var/log/proftpd/paranoid.log", "default"),
                ("/var/log/proftpd/metrics.log", "metrics"),
            ]
        );
        assert_eq!(c.extended_logs[0].expanded_classes(), ["AUTH"]);
        assert_eq!(c.extended_logs[1].expanded_classes().len(), 9);
        std::fs::write(dir.path().join("loop.conf"), "Include loop.conf\n").unwrap();
        let e = load(&dir.path().join("loop.conf")).unwrap_err();
        assert!(e.reason.contains("too deep"), "{e}");
        std::fs::write(dir.path().join("bad.conf"), "LogFormat lonely\n").unwrap();
        assert_eq!(load(&dir.path().join("bad.conf")).unwrap_err().line, 1);
    }
}
