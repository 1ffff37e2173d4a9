//! doveadm's output formatters read back into records: `tab` (a header line, then
//! tab-separated records), `table` (the same with space-padded columns), `flow` (`key=value`
//! pairs, one record per line), `pager` (`key: value` lines, records separated by a form
//! feed) and `json` (an array of objects, values as strings or numbers). Every doveadm
//! command prints through them, so one reader serves `stats dump`, `service status`, `who`
//! and the rest; each caller names its first column, which recognises the layout.

/// The formatter a text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formatter {
    /// `-f tab` (and the default).
    Tab,
    /// `-f table`.
    Table,
    /// `-f flow`.
    Flow,
    /// `-f pager`.
    Pager,
    /// `-f json`.
    Json,
}

impl Formatter {
    /// Recognises the formatter from the first non-blank line, given the name of the
    /// first column (`metric_name` for `stats dump`, `name` for `service status`).
    pub fn detect(text: &str, first_column: &str) -> Formatter {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let first = first.trim_start_matches('\x0c').trim_start();
        if first.starts_with('[') {
            Formatter::Json
        } else if first.starts_with(&format!("{first_column}=")) {
            Formatter::Flow
        } else if first.starts_with(&format!("{first_column}:")) {
            Formatter::Pager
        } else if first.contains('\t') {
            Formatter::Tab
        } else {
            Formatter::Table
        }
    }
}

/// One record: the line (or JSON element) it started on, and its key/value pairs in order.
pub type Record = (usize, Vec<(String, String)>);

/// Reads doveadm output whose records start with column `first_column`, in any formatter.
pub fn records(text: &str, first_column: &str) -> Result<Vec<Record>, String> {
    let own = |kv: Vec<(&str, &str)>| -> Vec<(String, String)> {
        kv.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Ok(match Formatter::detect(text, first_column) {
        Formatter::Json => json_records(text)?,
        Formatter::Flow => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let kv = l
                    .split(' ')
                    .filter(|t| !t.is_empty())
                    .map(|t| t.split_once('=').unwrap_or((t, "")))
                    .collect();
                (i + 1, own(kv))
            })
            .collect(),
        Formatter::Pager => pager_records(text)
            .into_iter()
            .map(|(i, kv)| (i, own(kv)))
            .collect(),
        f @ (Formatter::Tab | Formatter::Table) => columns(text, f, first_column)?
            .into_iter()
            .map(|(i, kv)| (i, own(kv)))
            .collect(),
    })
}

/// A record borrowing from the text.
type Borrowed<'a> = (usize, Vec<(&'a str, &'a str)>);

fn columns<'a>(
    text: &'a str,
    f: Formatter,
    first_column: &str,
) -> Result<Vec<Borrowed<'a>>, String> {
    fn split(l: &str, f: Formatter) -> Vec<&str> {
        match f {
            Formatter::Tab => l.split('\t').collect(),
            _ => l.split_whitespace().collect(),
        }
    }
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let header = split(header, f);
    if header.first() != Some(&first_column) {
        return Err(format!(
            "the first line is not doveadm's header (starting with {first_column})"
        ));
    }
    Ok(lines
        .map(|(i, l)| (i + 1, header.iter().copied().zip(split(l, f)).collect()))
        .collect())
}

fn pager_records(text: &str) -> Vec<Borrowed<'_>> {
    let mut out: Vec<Borrowed<'_>> = Vec::new();
    let mut cur: Option<Borrowed<'_>> = None;
    for (i, raw) in text.lines().enumerate() {
        let ff = raw.starts_with('\x0c');
        let l = raw.trim_start_matches('\x0c').trim();
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        let (k, v) = (k.trim(), v.trim());
        // A form feed, or a key the record already has, starts the next record.
        let repeated = cur
            .as_ref()
            .is_some_and(|(_, kv)| kv.iter().any(|(key, _)| *key == k));
        if ff || repeated {
            out.extend(cur.take().filter(|(_, kv)| !kv.is_empty()));
        }
        if l.is_empty() {
            continue;
        }
        let rec = cur.get_or_insert_with(|| (i + 1, Vec::new()));
        rec.1.push((k, v));
    }
    out.extend(cur.filter(|(_, kv)| !kv.is_empty()));
    out
}

fn json_records(text: &str) -> Result<Vec<Record>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not doveadm's JSON: {e}"))?;
    let serde_json::Value::Array(items) = v else {
        return Err("doveadm's JSON is an array of records".into());
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let kv = match item {
                serde_json::Value::Object(m) => m
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k, v)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (i + 1, kv)
        })
        .collect())
}
