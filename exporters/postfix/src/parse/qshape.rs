//! `qshape` text output.
//!
//! One table per invocation (`auxiliary/qshape/qshape.pl`): a header whose domain column is
//! empty, then `T` and the bucket upper limits in minutes (the last one with a `+`), then the
//! `TOTAL` row and one row per domain, every field right-justified:
//!
//! ```text
//!                                          T  5 10 20 40 80 160 320 640 1280 1280+
//!                                   TOTAL  8  0  8  0  0  0   0   0   0    0     0
//!                             example.com  4  0  4  0  0  0   0   0   0    0     0
//! ```
//!
//! Options only change the labels and the rows: `-b`/`-t`/`-l` the buckets, `-s` sender
//! domains, `-p` extra parent-domain rows (leading `.`). Columns widen to fit large counts.
//! Domain names too long for their column are printed as `+` (parent rows `.+`) followed by
//! their tail; they are returned as printed. Several outputs concatenated (with or without
//! blank lines between them) give several tables.

/// One row: a domain (or `TOTAL`), its total and its per-bucket counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QshapeRow {
    /// Domain as printed (`example.com`, `.example.net`, `+tail-of-a-long.name`, `TOTAL`).
    pub domain: String,
    /// The `T` column.
    pub total: u64,
    /// One count per bucket, in header order.
    pub counts: Vec<u64>,
}

/// One qshape table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QshapeTable {
    /// Bucket labels after `T`: `"5"`, `"10"`, …, `"1280+"`.
    pub buckets: Vec<String>,
    /// The `TOTAL` row.
    pub total: QshapeRow,
    /// Domain rows in printed order (total descending, then name length).
    pub rows: Vec<QshapeRow>,
}

/// Why a qshape output could not be parsed. Line numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QshapeError {
    /// The text holds no table at all.
    #[error("no qshape table found")]
    Empty,
    /// A row before any header line.
    #[error("line {line}: row before the header")]
    NoHeader {
        /// Line number.
        line: usize,
    },
    /// A header line with no bucket labels.
    #[error("line {line}: header without buckets")]
    NoBuckets {
        /// Line number.
        line: usize,
    },
    /// A row whose number of counts differs from the header's bucket count.
    #[error("line {line}: {found} counts for {expected} buckets: {text}")]
    ColumnCount {
        /// Line number.
        line: usize,
        /// Bucket count from the header.
        expected: usize,
        /// Counts found on the line (after the total).
        found: usize,
        /// The line (at most 200 characters of it).
        text: String,
    },
    /// A table without its `TOTAL` row.
    #[error("line {line}: table has no TOTAL row")]
    MissingTotal {
        /// Line of the table's header.
        line: usize,
    },
}

/// Parses one or more qshape tables.
pub fn parse(text: &str) -> Result<Vec<QshapeTable>, QshapeError> {
    let mut tables = Vec::new();
    let mut current: Option<(usize, QshapeTable, bool)> = None;
    let finish = |cur: Option<(usize, QshapeTable, bool)>,
                  tables: &mut Vec<QshapeTable>|
     -> Result<(), QshapeError> {
        if let Some((line, table, has_total)) = cur {
            if !has_total {
                return Err(QshapeError::MissingTotal { line });
            }
            tables.push(table);
        }
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = tokens.first() else {
            continue;
        };
        if *first == "T" && line.starts_with([' ', '\t']) {
            finish(current.take(), &mut tables)?;
            let buckets: Vec<String> = tokens.iter().skip(1).map(|s| (*s).to_owned()).collect();
            if buckets.is_empty() {
                return Err(QshapeError::NoBuckets { line: line_no });
            }
            current = Some((
                line_no,
                QshapeTable {
                    buckets,
                    ..QshapeTable::default()
                },
                false,
            ));
            continue;
        }
        let Some((_, table, has_total)) = current.as_mut() else {
            return Err(QshapeError::NoHeader { line: line_no });
        };
        let expected = table.buckets.len();
        let numeric: usize = tokens
            .iter()
            .rev()
            .take_while(|t| t.bytes().all(|b| b.is_ascii_digit()))
            .count();
        let column_error = |found| QshapeError::ColumnCount {
            line: line_no,
            expected,
            found,
            text: line.chars().take(200).collect(),
        };
        // A domain is required before the numbers; an all-digit extra column is reported as
        // a wrong count rather than taken for a domain.
        if numeric != expected + 1 || tokens.len() <= numeric {
            return Err(column_error(numeric.saturating_sub(1)));
        }
        let split = tokens.len() - numeric;
        let mut nums = Vec::with_capacity(numeric);
        for t in tokens.iter().skip(split) {
            // All-digit tokens only fail to parse on overflow.
            nums.push(t.parse::<u64>().map_err(|_| column_error(expected))?);
        }
        let row = QshapeRow {
            domain: tokens
                .iter()
                .take(split)
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
            total: nums.first().copied().unwrap_or(0),
            counts: nums.into_iter().skip(1).collect(),
        };
        if row.domain == "TOTAL" && !*has_total {
            table.total = row;
            *has_total = true;
        } else {
            table.rows.push(row);
        }
    }
    finish(current, &mut tables)?;
    if tables.is_empty() {
        return Err(QshapeError::Empty);
    }
    Ok(tables)
}
