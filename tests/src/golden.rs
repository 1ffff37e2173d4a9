//! Golden files of a whole exposition (text 0.0.4 or OpenMetrics), in the manner of
//! node_exporter's `collector/fixtures/e2e-output.txt`: what an exporter serves for fixed
//! inputs, with the values that cannot repeat masked.
//!
//! [`canonicalise`] holds every masking rule, so each exporter's golden test uses the same
//! ones; [`compare_or_update`] compares with the checked-in file or, with `UPDATE_GOLDEN=1`,
//! rewrites it.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// What a masked value or label reads as in a golden file.
pub const MASK: &str = "<masked>";

/// Labels of build-info metrics that change with every commit or toolchain.
const BUILD_LABELS: [&str; 3] = ["version", "revision", "rustc"];

/// Name endings of samples whose value is a clock reading or a measured time.
const VOLATILE_SUFFIXES: [&str; 4] = [
    "_timestamp_seconds",
    "_duration_seconds",
    "_start_time_seconds",
    "_created",
];

/// Makes an exposition repeatable, keeping every family, series and label, and every value
/// that depends only on the exporter's input.
///
/// Rules, in order:
/// 1. `process_*` samples: value masked (the exporter's own CPU, memory, fds, threads).
/// 2. `*_info` samples (`<ns>_exporter_build_info`): the `version`, `revision` and `rustc`
///    label values masked.
/// 3. Samples named `*_timestamp_seconds`, `*_duration_seconds`, `*_start_time_seconds`
///    (also as `_sum`/`_count`/`_bucket` of such a histogram) and OpenMetrics `*_created`:
///    value masked. That covers wall-clock readings, measured durations and a log's own
///    year-less BSD timestamps (their year is today's).
/// 4. Samples of families named `*_age_seconds` ("now" minus a time in the input): the
///    value masked, except what does not depend on the clock: a histogram's `_count` and
///    its `le="+Inf"` bucket (they count the input's items), every sample of a histogram
///    series whose `_count` is 0, and a gauge of 0 (nothing to age, e.g. an empty queue;
///    ages only grow, so a real age never reads 0 later).
/// 5. A sample's own timestamp (a third field) is masked.
/// 6. Within each run of sample lines (a family), series are ordered by their labels
///    without `le`/`quantile`, stable, so a histogram's lines stay in exposition order:
///    exporters keep series in hash maps whose order differs between processes.
///
/// HELP, TYPE, UNIT and `# EOF` lines are kept as they are.
pub fn canonicalise(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut family: Vec<SampleLine<'_>> = Vec::new();
    for line in body.lines() {
        match split_sample(line) {
            Some(s) => family.push(s),
            None => {
                flush_family(&mut family, &mut out);
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    flush_family(&mut family, &mut out);
    out
}

/// Writes one family's samples, masked and ordered (see [`canonicalise`]).
fn flush_family(family: &mut Vec<SampleLine<'_>>, out: &mut String) {
    // Series without items (a histogram `_count` of 0) have no age to mask.
    let empty: Vec<String> = family
        .iter()
        .filter(|s| s.name.ends_with("_count") && s.value.parse() == Ok(0.0))
        .map(SampleLine::order_key)
        .collect();
    let mut lines: Vec<(String, String)> = family
        .drain(..)
        .map(|s| {
            let key = s.order_key();
            let line = s.masked(empty.contains(&key));
            (key, line)
        })
        .collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, line) in lines {
        out.push_str(&line);
        out.push('\n');
    }
}

/// The family names of the `# TYPE` lines of `body`, in order, without repeats.
pub fn family_names(body: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in body.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        if let Some(name) = rest.split_whitespace().next()
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
    }
    names
}

/// Every backquoted metric-looking name in docs/metrics.md, with `<ns>` read as `ns` and
/// `{labels}` suffixes dropped: what a golden file's families are checked against.
pub fn documented_names(ns: &str) -> Vec<String> {
    let path = crate::exporter::workspace_root().join("docs/metrics.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    doc.split('`')
        .skip(1)
        .step_by(2)
        .map(|n| {
            let n = n.replace("<ns>", ns);
            n.split('{').next().unwrap_or_default().trim().to_string()
        })
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect()
}

/// `tests/golden/<name>`.
pub fn golden_path(name: &str) -> std::path::PathBuf {
    crate::exporter::workspace_root()
        .join("tests/golden")
        .join(name)
}

/// Compares (or, updating, writes) both exposition formats of one exporter's output,
/// `tests/golden/<stem>.txt` and `<stem>.openmetrics.txt`, and reports every mismatch at
/// once, so one run shows (or writes) both.
pub fn compare_both(stem: &str, text: &str, openmetrics: &str) -> Result<()> {
    let results = [
        compare_or_update(&golden_path(&format!("{stem}.txt")), text),
        compare_or_update(
            &golden_path(&format!("{stem}.openmetrics.txt")),
            openmetrics,
        ),
    ];
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", errors.join("\n\n"))
    }
}

/// The families of golden file `tests/golden/<stem>.txt` that docs/metrics.md does not
/// name (`<ns>` read as `ns`; a counter may be documented with `_total`, an info metric
/// with `_info`), and how many families the file has.
pub fn undocumented_families(stem: &str, ns: &str) -> Result<(Vec<String>, usize)> {
    let path = golden_path(&format!("{stem}.txt"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let documented = documented_names(ns);
    let all = family_names(&text);
    let missing = all
        .iter()
        .filter(|f| {
            ![f.to_string(), format!("{f}_total"), format!("{f}_info")]
                .iter()
                .any(|n| documented.contains(n))
        })
        .cloned()
        .collect();
    Ok((missing, all.len()))
}

/// Waits (30 s at most) until the exporter has read `lines` lines over all its log
/// sources (`<ns>_log_lines_total`), then scrapes both formats, checks them with promtool
/// and the strict OpenMetrics parser, writes `tmp` as `<tmpdir>` and canonicalises them,
/// and compares them with `tests/golden/<stem>{.txt,.openmetrics.txt}`. Returns the raw
/// text body for further checks.
pub fn check_golden(
    e: &crate::Exporter,
    ns: &str,
    lines: f64,
    tmp: &Path,
    stem: &str,
) -> Result<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let family = format!("{ns}_log_lines_total");
    loop {
        let read = crate::expo::sum(&e.samples()?, &family, &[]);
        if read >= lines {
            break;
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("{read} of {lines} log lines read after 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let tmp = tmp.display().to_string();
    let stable = |body: String| canonicalise(&body.replace(&tmp, "<tmpdir>"));
    let raw_text = e.scrape(crate::ACCEPT_TEXT)?.text();
    let raw_om = e.scrape(crate::ACCEPT_OPENMETRICS)?.text();
    let report = crate::tools::promtool_check_metrics(&raw_text)?;
    if report.code != 0 && report.code != 3 {
        anyhow::bail!("promtool check metrics: {}", report.output);
    }
    crate::tools::validate_openmetrics(&raw_om)?;
    compare_both(stem, &stable(raw_text.clone()), &stable(raw_om))?;
    Ok(raw_text)
}

/// Fails unless every family of `tests/golden/<stem>.txt` is documented in
/// docs/metrics.md (`<ns>` read as `ns`) and the file has more than `min` families. Skipped
/// while updating (the file may be rewritten meanwhile).
pub fn check_documented(stem: &str, ns: &str, min: usize) -> Result<()> {
    if updating() {
        return Ok(());
    }
    let (missing, families) = undocumented_families(stem, ns)?;
    if !missing.is_empty() {
        anyhow::bail!(
            "families in tests/golden/{stem}.txt missing from docs/metrics.md: {missing:?}"
        );
    }
    if families <= min {
        anyhow::bail!("tests/golden/{stem}.txt looks truncated ({families} families)");
    }
    Ok(())
}

/// Whether `UPDATE_GOLDEN` is set to something other than empty or `0`.
pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Compares `actual` with the golden file at `path`; with `UPDATE_GOLDEN=1` writes `actual`
/// there instead (creating the directory). A mismatch fails with a unified-style diff of
/// the first differing region.
pub fn compare_or_update(path: &Path, actual: &str) -> Result<()> {
    if updating() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, actual).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("updated {}", path.display());
        return Ok(());
    }
    let want = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (UPDATE_GOLDEN=1 creates it)", path.display()))?;
    if want == actual {
        return Ok(());
    }
    bail!(
        "output differs from {} (UPDATE_GOLDEN=1 rewrites it):\n{}",
        path.display(),
        first_diff(&want, actual, 3, 40)
    )
}

/// A unified-style diff (`--- golden`, `+++ actual`, one `@@` hunk) of the first region
/// where `want` and `got` differ: `context` equal lines around it, at most `max` changed
/// lines per side.
pub fn first_diff(want: &str, got: &str, context: usize, max: usize) -> String {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let prefix = w.iter().zip(&g).take_while(|(a, b)| a == b).count();
    let w_rest = w.get(prefix..).unwrap_or_default();
    let g_rest = g.get(prefix..).unwrap_or_default();
    let suffix = w_rest
        .iter()
        .rev()
        .zip(g_rest.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let w_changed = w_rest.get(..w_rest.len() - suffix).unwrap_or_default();
    let g_changed = g_rest.get(..g_rest.len() - suffix).unwrap_or_default();
    let start = prefix.saturating_sub(context);
    let before = w.get(start..prefix).unwrap_or_default();
    let after = w_rest
        .get(w_changed.len()..)
        .unwrap_or_default()
        .iter()
        .take(context);
    let mut out = format!(
        "--- golden\n+++ actual\n@@ -{},{} +{},{} @@\n",
        start + 1,
        before.len() + w_changed.len(),
        start + 1,
        before.len() + g_changed.len()
    );
    for l in before {
        out.push_str(&format!(" {l}\n"));
    }
    for (sign, lines) in [('-', w_changed), ('+', g_changed)] {
        for l in lines.iter().take(max) {
            out.push_str(&format!("{sign}{l}\n"));
        }
        if lines.len() > max {
            out.push_str(&format!("{sign}... {} more lines\n", lines.len() - max));
        }
    }
    for l in after {
        out.push_str(&format!(" {l}\n"));
    }
    if w.len() != g.len() || w_changed.len() != g_changed.len() {
        out.push_str(&format!(
            "(golden has {} lines, actual {})\n",
            w.len(),
            g.len()
        ));
    }
    out
}

/// One sample line cut into its parts; the labels are kept as written.
struct SampleLine<'a> {
    name: &'a str,
    labels: Vec<(&'a str, &'a str)>,
    value: &'a str,
    timestamp: Option<&'a str>,
}

impl SampleLine<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Labels without `le` and `quantile`, as written: the series a line belongs to.
    fn order_key(&self) -> String {
        let mut key = String::new();
        for (k, v) in &self.labels {
            if *k != "le" && *k != "quantile" {
                key.push_str(&format!("{k}=\"{v}\","));
            }
        }
        key
    }

    fn value_is_volatile(&self, empty_series: bool) -> bool {
        let name = self.name;
        if name.starts_with("process_") {
            return true;
        }
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        if VOLATILE_SUFFIXES
            .iter()
            .any(|s| name.ends_with(s) || base.ends_with(s))
        {
            return true;
        }
        if base.ends_with("_age_seconds") {
            let counts_items = name.ends_with("_count")
                || (name.ends_with("_bucket") && self.label("le") == Some("+Inf"));
            // A gauge age of 0 means "nothing to age" (an empty queue): ages only grow.
            let nothing = base == name && self.value.parse() == Ok(0.0);
            return !(counts_items || empty_series || nothing);
        }
        false
    }

    fn masked(&self, empty_series: bool) -> String {
        let mut line = self.name.to_string();
        if !self.labels.is_empty() {
            let info = self.name.ends_with("_info");
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| {
                    let v = if info && BUILD_LABELS.contains(k) {
                        MASK
                    } else {
                        v
                    };
                    format!("{k}=\"{v}\"")
                })
                .collect();
            line.push('{');
            line.push_str(&labels.join(","));
            line.push('}');
        }
        line.push(' ');
        line.push_str(if self.value_is_volatile(empty_series) {
            MASK
        } else {
            self.value
        });
        if self.timestamp.is_some() {
            line.push(' ');
            line.push_str(MASK);
        }
        line
    }
}

/// Splits a sample line; `None` for comments, blank lines and anything unparsable (kept
/// verbatim by [`canonicalise`]).
fn split_sample(line: &str) -> Option<SampleLine<'_>> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = line.get(..name_end)?;
    let mut rest = line.get(name_end..)?;
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut i = 0;
        let bytes = inner.as_bytes();
        loop {
            while bytes.get(i).is_some_and(|b| *b == b',' || *b == b' ') {
                i += 1;
            }
            if bytes.get(i) == Some(&b'}') {
                rest = inner.get(i + 1..)?;
                break;
            }
            let eq = i + inner.get(i..)?.find('=')?;
            let key = inner.get(i..eq)?;
            if bytes.get(eq + 1) != Some(&b'"') {
                return None;
            }
            // The value ends at the first quote not escaped by a backslash.
            let mut j = eq + 2;
            loop {
                match bytes.get(j)? {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            labels.push((key, inner.get(eq + 2..j)?));
            i = j + 1;
        }
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next()?;
    let timestamp = fields.next();
    Some(SampleLine {
        name,
        labels,
        value,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_volatile_values_and_orders_series() {
        let body = "\
# TYPE x_exporter_build_info gauge
x_exporter_build_info{version=\"1.2\",revision=\"abc\",rustc=\"r\"} 1
# TYPE x_total counter
x_total{k=\"b\"} 2
x_total{k=\"a\\\"q\"} 1
# TYPE x_age_seconds histogram
x_age_seconds_sum{queue=\"q\"} 17.5
x_age_seconds_count{queue=\"q\"} 2
x_age_seconds_bucket{le=\"10.0\",queue=\"q\"} 1
x_age_seconds_bucket{le=\"+Inf\",queue=\"q\"} 2
x_age_seconds_sum{queue=\"empty\"} 0.0
x_age_seconds_count{queue=\"empty\"} 0
x_age_seconds_bucket{le=\"10.0\",queue=\"empty\"} 0
# TYPE x_oldest_age_seconds gauge
x_oldest_age_seconds{queue=\"q\"} 12.5
x_oldest_age_seconds{queue=\"empty\"} 0.0
# TYPE x_delay_seconds histogram
x_delay_seconds_sum 3.0
# TYPE x_last_timestamp_seconds gauge
x_last_timestamp_seconds 1.7e9
process_threads 5 1700000000
# EOF
";
        let want = "\
# TYPE x_exporter_build_info gauge
x_exporter_build_info{version=\"<masked>\",revision=\"<masked>\",rustc=\"<masked>\"} 1
# TYPE x_total counter
x_total{k=\"a\\\"q\"} 1
x_total{k=\"b\"} 2
# TYPE x_age_seconds histogram
x_age_seconds_sum{queue=\"empty\"} 0.0
x_age_seconds_count{queue=\"empty\"} 0
x_age_seconds_bucket{le=\"10.0\",queue=\"empty\"} 0
x_age_seconds_sum{queue=\"q\"} <masked>
x_age_seconds_count{queue=\"q\"} 2
x_age_seconds_bucket{le=\"10.0\",queue=\"q\"} <masked>
x_age_seconds_bucket{le=\"+Inf\",queue=\"q\"} 2
# TYPE x_oldest_age_seconds gauge
x_oldest_age_seconds{queue=\"empty\"} 0.0
x_oldest_age_seconds{queue=\"q\"} <masked>
# TYPE x_delay_seconds histogram
x_delay_seconds_sum 3.0
# TYPE x_last_timestamp_seconds gauge
x_last_timestamp_seconds <masked>
process_threads <masked> <masked>
# EOF
";
        assert_eq!(canonicalise(body), want);
        assert_eq!(
            family_names(body),
            [
                "x_exporter_build_info",
                "x_total",
                "x_age_seconds",
                "x_oldest_age_seconds",
                "x_delay_seconds",
                "x_last_timestamp_seconds"
            ]
        );
    }

    #[test]
    fn diff_shows_the_first_differing_region() {
        let d = first_diff("a\nb\nc\nd\n", "a\nb\nX\nd\n", 1, 10);
        assert_eq!(
            d,
            "--- golden\n+++ actual\n@@ -2,2 +2,2 @@\n b\n-c\n+X\n d\n"
        );
    }
}
