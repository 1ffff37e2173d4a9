//! The reply to a stats-reader `DUMP`: one line per metric and sub-metric, depth first.
//!
//! A line is `NAME`, the requested statistics of the event duration (microseconds), then
//! for each of the metric's `fields` the field name and the same statistics, all
//! tab-separated and tab-escaped. Sub-metrics of a `group_by` come as their own lines with
//! flattened names (`imap_command_SELECT_OK`); only non-empty quantized buckets appear. A
//! statistic the server does not know is an empty column.

use std::fmt;

/// One statistic a `DUMP` asks for, in the server's spelling.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    /// Number of events (an `unsigned int` in Dovecot: it wraps at 2^32).
    Count,
    /// Sum of the values.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean (`%.02f`).
    Avg,
    /// Median of the sample reservoir.
    Median,
    /// Variance (`%.02f`).
    Variance,
    /// A percentile of the sample reservoir: `%95`, `%99.9` (the text after `%`).
    Percentile(String),
}

impl Stat {
    /// Parses the server's name of a statistic (`count`, `%99`); `None` if unknown.
    pub fn parse(s: &str) -> Option<Stat> {
        Some(match s {
            "count" => Stat::Count,
            "sum" => Stat::Sum,
            "min" => Stat::Min,
            "max" => Stat::Max,
            "avg" => Stat::Avg,
            "median" => Stat::Median,
            "variance" => Stat::Variance,
            _ => {
                let p = s.strip_prefix('%')?;
                let v: f64 = p.parse().ok()?;
                if !(0.0..=100.0).contains(&v) {
                    return None;
                }
                Stat::Percentile(p.to_string())
            }
        })
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stat::Count => f.write_str("count"),
            Stat::Sum => f.write_str("sum"),
            Stat::Min => f.write_str("min"),
            Stat::Max => f.write_str("max"),
            Stat::Avg => f.write_str("avg"),
            Stat::Median => f.write_str("median"),
            Stat::Variance => f.write_str("variance"),
            Stat::Percentile(p) => write!(f, "%{p}"),
        }
    }
}

/// The requested statistics of one value (the duration or a field), in request order;
/// `None` where the server left the column empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatValues(pub Vec<Option<f64>>);

impl StatValues {
    /// The value of `stat`, given the statistics the dump was asked for.
    pub fn get(&self, requested: &[Stat], stat: &Stat) -> Option<f64> {
        let i = requested.iter().position(|s| s == stat)?;
        self.0.get(i).copied().flatten()
    }
}

/// One line of a dump.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DumpRow {
    /// The flattened metric name (`imap_command_SELECT_OK`), unescaped.
    pub name: String,
    /// Statistics of the event duration, in microseconds.
    pub duration: StatValues,
    /// Each of the metric's `fields`, with its statistics.
    pub fields: Vec<(String, StatValues)>,
}

/// A dump line that could not be read; the other lines are still used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stats-reader DUMP line {line}: {reason}")]
pub struct DumpError {
    /// 1-based line number within the dump (the VERSION line not counted).
    pub line: usize,
    /// What was wrong, without the line's content (it may hold user data).
    pub reason: String,
}

/// Undoes Dovecot's tab escaping (`str_tabescape`): `\x01` followed by `1`, `t`, `r`,
/// `n` or `0` stands for `\x01`, tab, CR, LF or NUL. An unknown escape is kept as is.
pub fn unescape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\x01') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\x01' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('1') => out.push('\x01'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some(other) => {
                out.push('\x01');
                out.push(other);
            }
            None => out.push('\x01'),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Parses the lines of a dump reply (without the VERSION line and the final empty line)
/// taken with the statistics `requested`. Returns the rows read and an error per line
/// that could not be read.
pub fn parse_dump(reply: &str, requested: &[Stat]) -> (Vec<DumpRow>, Vec<DumpError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in reply.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        match parse_row(line, requested) {
            Ok(row) => rows.push(row),
            Err(reason) => errors.push(DumpError {
                line: i + 1,
                reason,
            }),
        }
    }
    (rows, errors)
}

fn parse_row(line: &str, requested: &[Stat]) -> Result<DumpRow, String> {
    let n = requested.len();
    let cols: Vec<&str> = line.split('\t').collect();
    let (name, rest) = cols.split_first().ok_or("empty line")?;
    if name.is_empty() {
        return Err("empty metric name".to_string());
    }
    if rest.len() < n || !(rest.len() - n).is_multiple_of(n + 1) {
        return Err(format!(
            "{} columns after the name, expected {n} plus a multiple of {}",
            rest.len(),
            n + 1
        ));
    }
    let (duration, mut fields_cols) = rest.split_at(n);
    let mut row = DumpRow {
        name: unescape(name).into_owned(),
        duration: values(duration, requested)?,
        fields: Vec::new(),
    };
    while let Some((key, tail)) = fields_cols.split_first() {
        let (vals, next) = tail.split_at(n.min(tail.len()));
        if key.is_empty() {
            return Err("empty field name".to_string());
        }
        row.fields
            .push((unescape(key).into_owned(), values(vals, requested)?));
        fields_cols = next;
    }
    Ok(row)
}

fn values(cols: &[&str], requested: &[Stat]) -> Result<StatValues, String> {
    let mut out = Vec::with_capacity(cols.len());
    for (col, stat) in cols.iter().zip(requested) {
        if col.is_empty() {
            out.push(None);
            continue;
        }
        let v: f64 = col.parse().map_err(|_| format!("{stat} is not a number"))?;
        if !v.is_finite() || v < 0.0 {
            return Err(format!("{stat} is out of range"));
        }
        out.push(Some(v));
    }
    Ok(StatValues(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(names: &[&str]) -> Vec<Stat> {
        names.iter().filter_map(|n| Stat::parse(n)).collect()
    }

    #[test]
    fn rows_with_duration_and_fields() {
        let r = req(&["count", "sum", "min", "max"]);
        let dump = "auth_success\t4\t8006280\t67\t8005994\n\
imap_command_SELECT_OK\t3\t3536\t351\t2714\tbytes_in\t3\t15\t5\t5\tbytes_out\t3\t979\t311\t334\n";
        let (rows, errors) = parse_dump(dump, &r);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "auth_success");
        assert_eq!(rows[0].duration.get(&r, &Stat::Sum), Some(8006280.0));
        assert!(rows[0].fields.is_empty());
        assert_eq!(rows[1].fields.len(), 2);
        assert_eq!(rows[1].fields[1].0, "bytes_out");
        assert_eq!(rows[1].fields[1].1.get(&r, &Stat::Max), Some(334.0));
        assert_eq!(rows[1].duration.get(&r, &Stat::Count), Some(3.0));
    }

    #[test]
    fn unknown_statistic_is_an_empty_column() {
        // The server answers a statistic it does not know (`stddev`) with an empty column.
        let r = vec![Stat::Count, Stat::Percentile("x".into()), Stat::Sum];
        let (rows, errors) = parse_dump("auth_success\t4\t\t8006280", &r);
        assert!(errors.is_empty());
        assert_eq!(rows[0].duration.0, vec![Some(4.0), None, Some(8006280.0)]);
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let r = req(&["count", "sum"]);
        let dump = "a\t1\t2\nb\t1\nc\tx\t2\n\t1\t2\nd\t1\t2\tf\t3\te\nok\t5\t6\tbytes_in\t1\t2\n";
        let (rows, errors) = parse_dump(dump, &r);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "ok"]);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5]);
        assert!(
            errors[1].reason.contains("count is not a number"),
            "{errors:?}"
        );
    }

    #[test]
    fn escaped_names() {
        assert_eq!(unescape("a\x01tb\x01nc\x011d\x010"), "a\tb\nc\x01d\0");
        assert_eq!(unescape("plain"), "plain");
        assert_eq!(unescape("odd\x01"), "odd\x01");
        let r = req(&["count"]);
        let (rows, _) = parse_dump("imap_command_x\x01ty\t1", &r);
        assert_eq!(rows[0].name, "imap_command_x\ty");
    }

    #[test]
    fn stat_names_round_trip() {
        for s in [
            "count", "sum", "min", "max", "avg", "median", "variance", "%95", "%99.9",
        ] {
            assert_eq!(Stat::parse(s).map(|s| s.to_string()).as_deref(), Some(s));
        }
        assert_eq!(Stat::parse("stddev"), None);
        assert_eq!(Stat::parse("%101"), None);
    }

    proptest::proptest! {
        /// Whatever the bytes, parsing answers rows or errors, never panics, and accounts
        /// for every non-empty line.
        #[test]
        fn never_panics(s in "[a-z_\\t\\x01\\n0-9.]{0,200}") {
            let r = req(&["count", "sum", "avg"]);
            let (rows, errors) = parse_dump(&s, &r);
            let lines = s.lines().filter(|l| !l.is_empty()).count();
            proptest::prop_assert_eq!(rows.len() + errors.len(), lines);
        }
    }
}
