//! `doveadm stats dump` output, in any of doveadm's formatters, read back into the rows a
//! stats-reader `DUMP` gives, for hosts where the exporter runs `doveadm` (or is fed its
//! output) instead of talking to the socket.
//!
//! doveadm prints one record per (metric, field): `metric_name`, `field` (`duration` or one
//! of the metric's `fields`), then the statistics (`count sum min max avg median stddev %95`
//! by default, or the `-f` list), in any of its formatters ([`crate::doveadm`]; metric
//! names never hold spaces, Dovecot escapes sub-metric names, so `table` splits safely).

use super::dump::{DumpError, DumpRow, Stat, StatValues};
use crate::doveadm::{Record, records};

/// The rows of a doveadm dump, the statistics its columns hold, and the records that could
/// not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DoveadmDump {
    /// The statistics in the output, in column order (unknown columns such as `stddev` are
    /// left out).
    pub stats: Vec<Stat>,
    /// One row per metric or sub-metric, as a stats-reader dump has them.
    pub rows: Vec<DumpRow>,
    /// One error per record (or line) that could not be read.
    pub errors: Vec<DumpError>,
}

/// Reads `doveadm stats dump` output from any formatter.
pub fn parse_doveadm(text: &str) -> Result<DoveadmDump, String> {
    Ok(assemble(&records(text, "metric_name")?))
}

/// Where a statistic goes in [`DoveadmDump::stats`]: doveadm's default order, then
/// percentiles by value.
fn rank(s: &Stat) -> f64 {
    match s {
        Stat::Count => 0.0,
        Stat::Sum => 1.0,
        Stat::Min => 2.0,
        Stat::Max => 3.0,
        Stat::Avg => 4.0,
        Stat::Median => 5.0,
        Stat::Variance => 6.0,
        Stat::Percentile(p) => 7.0 + p.parse::<f64>().unwrap_or(0.0),
    }
}

/// Groups records into rows: consecutive records of one `metric_name` are one row, its
/// `duration` record the row's duration and the others its fields.
fn assemble(records: &[Record]) -> DoveadmDump {
    let mut out = DoveadmDump::default();
    // The statistics are the first record's columns, in one fixed order (JSON objects do
    // not keep theirs), so every formatter gives the same dump.
    if let Some((_, first)) = records.first() {
        out.stats = first.iter().filter_map(|(k, _)| Stat::parse(k)).collect();
        out.stats.sort_by(|a, b| rank(a).total_cmp(&rank(b)));
        out.stats.dedup();
    }
    for (line, kv) in records {
        let get = |key: &str| kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let (Some(name), Some(field)) = (get("metric_name"), get("field")) else {
            out.errors.push(DumpError {
                line: *line,
                reason: "record without metric_name or field".into(),
            });
            continue;
        };
        if name.is_empty() || field.is_empty() {
            out.errors.push(DumpError {
                line: *line,
                reason: "empty metric_name or field".into(),
            });
            continue;
        }
        let mut values = Vec::with_capacity(out.stats.len());
        let mut bad = None;
        for stat in &out.stats {
            let v = match get(&stat.to_string()).map(str::trim) {
                None | Some("") => None,
                Some(s) => match s.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                    _ => {
                        bad = Some(format!("{stat} is not a number"));
                        None
                    }
                },
            };
            values.push(v);
        }
        if let Some(reason) = bad {
            out.errors.push(DumpError {
                line: *line,
                reason,
            });
            continue;
        }
        let values = StatValues(values);
        let same = out.rows.last().is_some_and(|r| r.name == name);
        if !same {
            out.rows.push(DumpRow {
                name: name.to_string(),
                duration: StatValues(vec![None; out.stats.len()]),
                fields: Vec::new(),
            });
        }
        let Some(row) = out.rows.last_mut() else {
            continue;
        };
        if field == "duration" {
            row.duration = values;
        } else {
            row.fields.push((field.to_string(), values));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TAB: &str = "metric_name\tfield\tcount\tsum\tmin\tmax\tavg\tmedian\tstddev\t%95
auth_success\tduration\t4\t8006280\t67\t8005994\t2001570.00\t109\t3466655.81\t8005994
imap_command\tduration\t21\t10238\t38\t2714\t487.52\t107\t689.63\t1556
imap_command\tbytes_in\t21\t309\t0\t55\t14.71\t5\t18.05\t55
imap_command_SELECT_NO\tduration\t3\t219\t71\t75\t73.00\t73\t1.63\t75
";

    fn check(d: &DoveadmDump) {
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        let s = &d.stats;
        assert_eq!(s[..4], [Stat::Count, Stat::Sum, Stat::Min, Stat::Max]);
        assert_eq!(d.rows.len(), 3);
        assert_eq!(d.rows[0].name, "auth_success");
        assert_eq!(d.rows[0].duration.get(s, &Stat::Sum), Some(8006280.0));
        assert_eq!(d.rows[1].fields.len(), 1);
        assert_eq!(d.rows[1].fields[0].0, "bytes_in");
        assert_eq!(d.rows[1].fields[0].1.get(s, &Stat::Sum), Some(309.0));
        assert_eq!(d.rows[2].duration.get(s, &Stat::Count), Some(3.0));
        assert_eq!(
            d.rows[2].duration.get(s, &Stat::Percentile("95".into())),
            Some(75.0)
        );
    }

    #[test]
    fn every_formatter_gives_the_same_rows() {
        let tab = parse_doveadm(TAB).unwrap();
        check(&tab);
        let table: String = TAB.replace('\t', "   ");
        assert_eq!(
            crate::doveadm::Formatter::detect(&table, "metric_name"),
            crate::doveadm::Formatter::Table
        );
        assert_eq!(parse_doveadm(&table).unwrap(), tab);
        let mut lines = TAB.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let recs: Vec<Vec<(&str, &str)>> = lines
            .map(|l| header.iter().copied().zip(l.split('\t')).collect())
            .collect();
        let flow: String = recs
            .iter()
            .map(|r| {
                let kv: Vec<String> = r.iter().map(|(k, v)| format!("{k}={v}")).collect();
                kv.join(" ") + "\n"
            })
            .collect();
        assert_eq!(parse_doveadm(&flow).unwrap(), tab);
        let pager: String = recs
            .iter()
            .map(|r| {
                let kv: String = r.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
                format!("{kv}\x0c\n")
            })
            .collect();
        assert_eq!(
            crate::doveadm::Formatter::detect(&pager, "metric_name"),
            crate::doveadm::Formatter::Pager
        );
        assert_eq!(parse_doveadm(&pager).unwrap(), tab);
        let json: Vec<String> = recs
            .iter()
            .map(|r| {
                let kv: Vec<String> = r.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
                format!("{{{}}}", kv.join(","))
            })
            .collect();
        let json = format!("[{}]", json.join(","));
        assert_eq!(parse_doveadm(&json).unwrap(), tab);
        // Numbers instead of strings.
        let json = json.replace("\"4\"", "4");
        assert_eq!(parse_doveadm(&json).unwrap(), tab);
    }

    #[test]
    fn bad_records_are_reported_and_the_rest_kept() {
        let text = "metric_name\tfield\tcount\tsum\nok\tduration\t1\t5\nbad\tduration\tx\t5\n\tduration\t1\t1\nshort\n";
        let d = parse_doveadm(text).unwrap();
        assert_eq!(d.rows.len(), 1);
        let lines: Vec<usize> = d.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert!(parse_doveadm("[1, 2").is_err());
        assert!(parse_doveadm("something else\n").is_err());
        assert_eq!(parse_doveadm("").unwrap(), DoveadmDump::default());
        // Header only: nothing defined yet.
        let d = parse_doveadm("metric_name\tfield\tcount\tsum\n").unwrap();
        assert!(d.rows.is_empty() && d.errors.is_empty());
    }
}
