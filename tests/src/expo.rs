//! Reading samples out of an exposition body (text 0.0.4 or OpenMetrics) in tests.
//!
//! Lenient on purpose: validity is checked by the real parsers in [`crate::tools`]; this is
//! for picking values to compare with what a scraper stored.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpoSample {
    /// Metric name as written on the line (e.g. `postfix_exporter_build_info`).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

impl ExpoSample {
    /// The value of label `name`, or `""`.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// `name{k="v",...}` with labels sorted, for comparing series sets.
    pub fn series_key(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// Every sample of `body` as `name` or `name{k="v",...}` (labels sorted) → value: a
/// lookup table for asserting exact series.
pub fn series_map(body: &str) -> BTreeMap<String, f64> {
    samples(body)
        .into_iter()
        .map(|s| {
            let key = if s.labels.is_empty() {
                s.name.clone()
            } else {
                s.series_key()
            };
            (key, s.value)
        })
        .collect()
}

/// Every sample line of `body` (comments and unparsable lines skipped).
pub fn samples(body: &str) -> Vec<ExpoSample> {
    body.lines().filter_map(parse_line).collect()
}

/// The samples called `name`.
pub fn find(body: &str, name: &str) -> Vec<ExpoSample> {
    samples(body)
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

fn parse_line(line: &str) -> Option<ExpoSample> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = line.get(..name_end)?.to_string();
    let mut rest = line.get(name_end..)?;
    let mut labels = BTreeMap::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut key = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = Some(i + 1);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next().map(|(_, c)| c) != Some('"') {
                        return None;
                    }
                    let mut val = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => val.push('\n'),
                                other => val.push(other),
                            },
                            other => val.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), val);
                }
                other => key.push(other),
            }
        }
        rest = r.get(end?..)?;
    }
    let value_text = rest.split_whitespace().next()?;
    let value = match value_text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some(ExpoSample {
        name,
        labels,
        value,
    })
}

/// The value of the first sample called `name` whose labels include every `want` pair.
pub fn value(all: &[ExpoSample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    all.iter()
        .find(|s| s.name == name && want.iter().all(|(k, v)| s.label(k) == *v))
        .map(|s| s.value)
}

/// Sum of the samples called `name` whose labels include every `want` pair (0 when none).
pub fn sum(all: &[ExpoSample], name: &str, want: &[(&str, &str)]) -> f64 {
    all.iter()
        .filter(|s| s.name == name && want.iter().all(|(k, v)| s.label(k) == *v))
        .map(|s| s.value)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_with_escapes_and_timestamps() {
        let body = "# HELP x y\nx{a=\"1\",b=\"q\\\"\\\\\\n\"} 2.5 1700000000\nup 1\n# EOF\n";
        let s = samples(body);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "x");
        assert_eq!(s[0].label("b"), "q\"\\\n");
        assert_eq!(s[0].value, 2.5);
        assert_eq!(s[1].series_key(), "up{}");
        let m = series_map(body);
        assert_eq!(m["up"], 1.0);
        assert_eq!(m["x{a=\"1\",b=\"q\\\"\\\\\\n\"}"], 2.5);
    }
}
