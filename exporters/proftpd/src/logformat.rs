//! ExtendedLog lines in any `LogFormat`: the format string (`"%h %l %u %t \"%r\" %s %b"`)
//! becomes a matcher, so users keep the formats they have.
//!
//! ProFTPd does not escape client text (a file name may hold quotes, tabs and any UTF-8),
//! so a line cannot be split on separators. Each variable gets a pattern of what it can
//! hold: numbers, codes, command names, protocols and statuses are tight; client text
//! (`%r`, `%F`, `%S`, …) matches as little as it can while the rest of the line still
//! matches, the last one as much as is left. The anchored whole then settles where a quote
//! inside a file name ends the field and where it does not.

use regex::Regex;

/// A variable of a format, as far as the exporter uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `%m`: the command (`RETR`).
    Command,
    /// `%s`: the response code.
    Status,
    /// `%b`: bytes sent for the command.
    Bytes,
    /// `%{transfer-status}`: success, failed, cancelled, timeout.
    TransferStatus,
    /// `%{transfer-millisecs}`.
    TransferMillis,
    /// `%T`: transfer seconds with three decimals.
    TransferSecs,
    /// `%{protocol}`.
    Protocol,
    /// `%r`: the command line (the command is its first word).
    Request,
    /// Anything else (kept for matching only).
    Other,
}

/// How a variable is matched and what it is.
struct Var {
    /// The name as written (`%s`, `%{transfer-status}`).
    name: &'static str,
    /// Its pattern; `None` is client text.
    pattern: Option<&'static str>,
    field: Field,
}

const NUM_OR_DASH: &str = r"\d+|-";

/// Every variable of ProFTPd 1.3.8's mod_log.
const VARS: &[Var] = &[
    Var {
        name: "%a",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
    Var {
        name: "%A",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%b",
        pattern: Some(NUM_OR_DASH),
        field: Field::Bytes,
    },
    Var {
        name: "%c",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
    Var {
        name: "%d",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%D",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%E",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%f",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%F",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%g",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
    Var {
        name: "%h",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
    Var {
        name: "%H",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
    Var {
        name: "%I",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%J",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%l",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
    Var {
        name: "%L",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
    Var {
        name: "%m",
        pattern: Some(r"[A-Za-z0-9_-]+"),
        field: Field::Command,
    },
    Var {
        name: "%O",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%p",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%P",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%r",
        pattern: None,
        field: Field::Request,
    },
    Var {
        name: "%R",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%s",
        pattern: Some(r"\d{3}|-"),
        field: Field::Status,
    },
    Var {
        name: "%S",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%t",
        pattern: Some(r"\[[^\]]*\]"),
        field: Field::Other,
    },
    Var {
        name: "%T",
        pattern: Some(r"\d+(?:\.\d+)?|-"),
        field: Field::TransferSecs,
    },
    Var {
        name: "%u",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%U",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%v",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%V",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
    Var {
        name: "%w",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%{basename}",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%{epoch}",
        pattern: Some(r"\d+"),
        field: Field::Other,
    },
    Var {
        name: "%{file-modified}",
        pattern: Some(r"true|false|-"),
        field: Field::Other,
    },
    Var {
        name: "%{file-size}",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%{gid}",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%{iso8601}",
        pattern: Some(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"),
        field: Field::Other,
    },
    Var {
        name: "%{microsecs}",
        pattern: Some(r"\d+"),
        field: Field::Other,
    },
    Var {
        name: "%{millisecs}",
        pattern: Some(r"\d+"),
        field: Field::Other,
    },
    Var {
        name: "%{protocol}",
        pattern: Some(r"[a-z0-9]+|-"),
        field: Field::Protocol,
    },
    Var {
        name: "%{remote-port}",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%{transfer-failure}",
        pattern: None,
        field: Field::Other,
    },
    Var {
        name: "%{transfer-millisecs}",
        pattern: Some(NUM_OR_DASH),
        field: Field::TransferMillis,
    },
    Var {
        name: "%{transfer-port}",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%{transfer-status}",
        pattern: Some(r"[a-z]+|-"),
        field: Field::TransferStatus,
    },
    Var {
        name: "%{transfer-type}",
        pattern: Some(r"binary|ASCII|-"),
        field: Field::Other,
    },
    Var {
        name: "%{uid}",
        pattern: Some(NUM_OR_DASH),
        field: Field::Other,
    },
    Var {
        name: "%{version}",
        pattern: Some(r"\S+"),
        field: Field::Other,
    },
];

/// A format the exporter cannot build a matcher for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A variable ProFTPd 1.3.8 does not have (or the exporter does not know).
    #[error("unsupported LogFormat variable {0}")]
    Unsupported(String),
    /// A `%` at the end, or an unclosed `%{`.
    #[error("LogFormat ends inside a variable")]
    Truncated,
}

/// A compiled format.
#[derive(Debug, Clone)]
pub struct LogFormat {
    /// The split without the regex, for formats whose lines split uniquely.
    fast: Option<fast::Fast>,
    re: Regex,
    /// The capture group of each field the exporter uses.
    fields: Vec<(Field, usize)>,
}

/// The values of one line, for the fields the format has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values<'a> {
    /// `%m`, or the first word of `%r`.
    pub command: Option<&'a str>,
    /// `%s`.
    pub status: Option<&'a str>,
    /// `%b`.
    pub bytes: Option<&'a str>,
    /// `%{transfer-status}`.
    pub transfer_status: Option<&'a str>,
    /// `%{transfer-millisecs}` or `%T` × 1000, in milliseconds.
    pub transfer_millis: Option<f64>,
    /// `%{protocol}`.
    pub protocol: Option<&'a str>,
}

fn lookup(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.name == name)
}

impl LogFormat {
    /// Compiles `format` (the string of a `LogFormat` directive, without its quotes).
    pub fn new(format: &str) -> Result<LogFormat, FormatError> {
        // Tokens: literal text, or a variable.
        let mut tokens: Vec<Result<&'static Var, String>> = Vec::new();
        let mut rest = format;
        while let Some(i) = rest.find('%') {
            if i > 0 {
                tokens.push(Err(rest[..i].to_string()));
            }
            let after = &rest[i + 1..];
            let (name, len) = if let Some(inner) = after.strip_prefix('{') {
                let close = inner.find('}').ok_or(FormatError::Truncated)?;
                // `%`, `{`, the name, `}`.
                let mut len = close + 3;
                // `%{NAME}e` (environment) and `%{strftime}t` take one more letter.
                let suffix = inner[close + 1..].chars().next();
                let name = match suffix {
                    Some(c @ ('e' | 't'))
                        if lookup(&format!("%{{{}}}", &inner[..close])).is_none() =>
                    {
                        len += 1;
                        format!("%{{…}}{c}")
                    }
                    _ => format!("%{{{}}}", &inner[..close]),
                };
                (name, len)
            } else {
                let c = after.chars().next().ok_or(FormatError::Truncated)?;
                (format!("%{c}"), 1 + c.len_utf8())
            };
            let var = match name.as_str() {
                // A literal percent sign.
                "%%" => {
                    tokens.push(Err("%".to_string()));
                    rest = &rest[i + len..];
                    continue;
                }
                "%{…}e" => &Var {
                    name: "%{…}e",
                    pattern: None,
                    field: Field::Other,
                },
                "%{…}t" => &Var {
                    name: "%{…}t",
                    pattern: None,
                    field: Field::Other,
                },
                n => lookup(n).ok_or_else(|| FormatError::Unsupported(n.to_string()))?,
            };
            tokens.push(Ok(var));
            rest = &rest[i + len..];
        }
        if !rest.is_empty() {
            tokens.push(Err(rest.to_string()));
        }
        let last_var = tokens.iter().rposition(|t| t.is_ok());
        let mut pattern = String::from("^");
        let mut fields = Vec::new();
        let mut group = 0;
        for (i, t) in tokens.iter().enumerate() {
            match t {
                Err(lit) => pattern.push_str(&regex::escape(lit)),
                Ok(v) => {
                    let p = match v.pattern {
                        Some(p) => p,
                        // Client text: as little as possible, unless nothing follows it.
                        None if Some(i) == last_var && i + 1 == tokens.len() => ".*",
                        None => ".*?",
                    };
                    // Only the fields used are captured: fewer groups, faster captures.
                    if v.field == Field::Other {
                        pattern.push_str(&format!("(?:{p})"));
                    } else {
                        group += 1;
                        pattern.push_str(&format!("({p})"));
                        fields.push((v.field, group));
                    }
                }
            }
        }
        pattern.push('$');
        let re = Regex::new(&pattern).map_err(|_| FormatError::Truncated)?;
        Ok(LogFormat {
            fast: fast::Fast::new(&tokens),
            re,
            fields,
        })
    }

    /// Whether the format has `field`.
    pub fn has(&self, field: Field) -> bool {
        self.fields.iter().any(|(f, _)| *f == field)
    }

    /// Matches one line; `None` when it does not have the format's shape.
    pub fn parse<'a>(&self, line: &'a str) -> Option<Values<'a>> {
        if let Some(f) = &self.fast {
            let mut v = Values::default();
            if f.split(line, |field, text| assign(&mut v, field, text)) {
                return Some(v);
            }
        }
        self.parse_regex(line)
    }

    /// [`LogFormat::parse`] by the regex alone.
    pub fn parse_regex<'a>(&self, line: &'a str) -> Option<Values<'a>> {
        let caps = self.re.captures(line)?;
        let mut v = Values::default();
        for (field, g) in &self.fields {
            if let Some(m) = caps.get(*g) {
                assign(&mut v, *field, m.as_str());
            }
        }
        Some(v)
    }

    /// Whether lines of this format are split without the regex.
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }
}

/// Stores the text of one variable.
fn assign<'a>(v: &mut Values<'a>, field: Field, text: &'a str) {
    let dash = |s: &'a str| (s != "-").then_some(s);
    match field {
        // Order-free: a `-` never clears what another variable gave.
        Field::Command => {
            if let Some(c) = dash(text) {
                v.command = Some(c);
            }
        }
        Field::Request => {
            if v.command.is_none() {
                v.command = text.split(' ').next().filter(|c| !c.is_empty());
            }
        }
        Field::Status => v.status = dash(text),
        Field::Bytes => v.bytes = dash(text),
        Field::TransferStatus => v.transfer_status = dash(text),
        Field::TransferMillis => {
            if let Ok(ms) = text.parse() {
                v.transfer_millis = Some(ms);
            }
        }
        Field::TransferSecs => {
            if v.transfer_millis.is_none() {
                v.transfer_millis = text.parse::<f64>().ok().map(|s| s * 1000.0);
            }
        }
        Field::Protocol => v.protocol = dash(text),
        Field::Other => {}
    }
}

/// ProFTPd's built-in `default` format (the Common Log Format).
pub const DEFAULT_FORMAT: &str = "%h %l %u %t \"%r\" %s %b";

mod fast;

#[cfg(test)]
mod tests;
