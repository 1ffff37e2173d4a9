//! A matcher without the regex for the formats where the split of a line is the regex's:
//! every variable but client text unable to hold the character that ends it (the first of
//! the literal after it when read from the left, the last of the literal before it when
//! read from the right). The variables before the last client text are read from the
//! left, those after it from the right, and the last client text is what lies between.
//! Earlier client text (`%u` in the default format) ends at the first place its literal
//! follows, the shortest, as the regex's lazy `.*?` tries first; when the rest of the line
//! does not fit there, the regex (which would try further) decides. The regex's captures
//! ran at under half a million lines per second.
//!
//! Each variable's text is then checked against its pattern, never more leniently than the
//! regex does; a line this matcher rejects goes to the regex, which has the last word.

use super::{Field, Var};

/// What a variable's pattern admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `\S+`.
    NoSpace,
    /// `\d+|-`.
    NumOrDash,
    /// `\d+`.
    Digits,
    /// `[A-Za-z0-9_-]+`.
    Word,
    /// `[a-z0-9]+|-`.
    LowerNumOrDash,
    /// `[a-z]+|-`.
    LowerOrDash,
    /// `\d+(?:\.\d+)?|-`.
    DecimalOrDash,
    /// `\d{3}|-`.
    CodeOrDash,
    /// `\[[^\]]*\]`: ends at the first `]`.
    Bracketed,
    /// `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}`: 23 bytes.
    Iso8601,
    /// One of a few words.
    OneOf(&'static [&'static str]),
}

const ISO8601_LEN: usize = 23;

impl Kind {
    fn of(pattern: &str) -> Option<Kind> {
        Some(match pattern {
            r"\S+" => Kind::NoSpace,
            r"\d+|-" => Kind::NumOrDash,
            r"\d+" => Kind::Digits,
            r"[A-Za-z0-9_-]+" => Kind::Word,
            r"[a-z0-9]+|-" => Kind::LowerNumOrDash,
            r"[a-z]+|-" => Kind::LowerOrDash,
            r"\d+(?:\.\d+)?|-" => Kind::DecimalOrDash,
            r"\d{3}|-" => Kind::CodeOrDash,
            r"\[[^\]]*\]" => Kind::Bracketed,
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}" => Kind::Iso8601,
            "binary|ASCII|-" => Kind::OneOf(&["binary", "ASCII", "-"]),
            "true|false|-" => Kind::OneOf(&["true", "false", "-"]),
            _ => return None,
        })
    }

    /// Whether a text of this kind may hold `c` (then `c` cannot end it).
    fn may_hold(self, c: char) -> bool {
        match self {
            Kind::NoSpace => !c.is_whitespace(),
            // Unicode digits too: the regex's `\d` takes them.
            Kind::NumOrDash | Kind::CodeOrDash => c == '-' || c.is_numeric(),
            Kind::Digits => c.is_numeric(),
            Kind::DecimalOrDash => c == '-' || c == '.' || c.is_numeric(),
            Kind::Word => c == '_' || c == '-' || c.is_ascii_alphanumeric(),
            Kind::LowerNumOrDash => c == '-' || c.is_ascii_lowercase() || c.is_ascii_digit(),
            Kind::LowerOrDash => c == '-' || c.is_ascii_lowercase(),
            Kind::OneOf(words) => words.iter().any(|w| w.contains(c)),
            Kind::Bracketed | Kind::Iso8601 => true,
        }
    }

    /// Whether `t` matches the pattern (ASCII digits only: stricter than the regex, which
    /// then decides).
    fn admits(self, t: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match self {
            Kind::NoSpace => !t.is_empty() && !t.chars().any(char::is_whitespace),
            Kind::NumOrDash => t == "-" || digits(t),
            Kind::Digits => digits(t),
            Kind::CodeOrDash => t == "-" || (t.len() == 3 && digits(t)),
            Kind::DecimalOrDash => {
                t == "-"
                    || match t.split_once('.') {
                        Some((a, b)) => digits(a) && digits(b),
                        None => digits(t),
                    }
            }
            Kind::Word => {
                !t.is_empty()
                    && t.bytes()
                        .all(|b| b == b'_' || b == b'-' || b.is_ascii_alphanumeric())
            }
            Kind::LowerNumOrDash => {
                t == "-"
                    || (!t.is_empty()
                        && t.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            }
            Kind::LowerOrDash => {
                t == "-" || (!t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase()))
            }
            Kind::OneOf(words) => words.contains(&t),
            Kind::Bracketed => {
                t.len() >= 2
                    && t.starts_with('[')
                    && t.ends_with(']')
                    && !t[1..t.len() - 1].contains(']')
            }
            Kind::Iso8601 => {
                let b = t.as_bytes();
                b.len() == ISO8601_LEN
                    && b.iter().enumerate().all(|(i, &c)| match i {
                        4 | 7 => c == b'-',
                        10 => c == b' ',
                        13 | 16 => c == b':',
                        19 => c == b',',
                        _ => c.is_ascii_digit(),
                    })
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(String),
    Var(Kind, Field),
    /// Client text before the last: ends where the next literal first occurs.
    Lazy(Field),
}

/// The compiled split of a format, when its lines split uniquely.
#[derive(Debug, Clone)]
pub(super) struct Fast {
    prefix: Vec<Tok>,
    /// The client-text variable's field, if the format has one.
    free: Option<Field>,
    suffix: Vec<Tok>,
}

impl Fast {
    /// The split for `tokens` (literals and variables, as [`super::LogFormat::new`] reads
    /// them), or `None` when it would not be unique.
    pub(super) fn new(tokens: &[Result<&'static Var, String>]) -> Option<Fast> {
        let free_at = (0..tokens.len())
            .rev()
            .find(|&i| matches!(tokens[i], Ok(v) if v.pattern.is_none()));
        let mut toks = Vec::with_capacity(tokens.len());
        for t in tokens {
            toks.push(match t {
                Err(lit) => Tok::Lit(lit.clone()),
                Ok(v) => match v.pattern {
                    Some(p) => Tok::Var(Kind::of(p)?, v.field),
                    // The last one is split out below.
                    None => Tok::Lazy(v.field),
                },
            });
        }
        let (prefix, free, suffix) = match free_at {
            Some(f) => {
                let field = tokens[f].as_ref().map(|v| v.field).ok()?;
                let suffix = toks.split_off(f + 1);
                toks.pop();
                (toks, Some(field), suffix)
            }
            None => (toks, None, Vec::new()),
        };
        // From the left: a variable ends where the next literal starts; the last one of
        // a format without client text ends with the line.
        for (i, t) in prefix.iter().enumerate() {
            if let Tok::Lazy(_) = t
                && !matches!(prefix.get(i + 1), Some(Tok::Lit(_)))
            {
                return None;
            }
            if let Tok::Var(kind, _) = t {
                match prefix.get(i + 1) {
                    Some(Tok::Lit(l)) => {
                        let c = l.chars().next()?;
                        if kind.may_hold(c) && !matches!(kind, Kind::Bracketed | Kind::Iso8601) {
                            return None;
                        }
                    }
                    Some(Tok::Var(..) | Tok::Lazy(_)) => return None,
                    // Right before the client text: nothing ends it.
                    None if free.is_some() => return None,
                    None => {}
                }
            }
        }
        // From the right: a variable starts after the literal before it.
        for (i, t) in suffix.iter().enumerate() {
            if let Tok::Var(kind, _) = t {
                let before = i.checked_sub(1).and_then(|j| suffix.get(j));
                match before {
                    Some(Tok::Lit(l)) => {
                        let c = l.chars().next_back()?;
                        match kind {
                            Kind::Iso8601 => {}
                            Kind::Bracketed => return None,
                            k if k.may_hold(c) => return None,
                            _ => {}
                        }
                    }
                    _ => return None,
                }
            }
        }
        Some(Fast {
            prefix,
            free,
            suffix,
        })
    }

    /// Splits `line`, calling `set` for each variable with its text; `false` when the line
    /// does not split so (then the regex decides).
    pub(super) fn split<'a>(&self, line: &'a str, mut set: impl FnMut(Field, &'a str)) -> bool {
        let mut p = 0;
        for (i, t) in self.prefix.iter().enumerate() {
            match t {
                Tok::Lit(l) => {
                    if !line[p..].starts_with(l.as_str()) {
                        return false;
                    }
                    p += l.len();
                }
                Tok::Lazy(field) => {
                    let rest = &line[p..];
                    let Some(Tok::Lit(l)) = self.prefix.get(i + 1) else {
                        return false;
                    };
                    let Some(end) = rest.find(l.as_str()) else {
                        return false;
                    };
                    let text = &rest[..end];
                    if text.contains('\n') {
                        return false;
                    }
                    set(*field, text);
                    p += end;
                }
                Tok::Var(kind, field) => {
                    let rest = &line[p..];
                    let end = match (kind, self.prefix.get(i + 1)) {
                        (Kind::Iso8601, _) => ISO8601_LEN,
                        (Kind::Bracketed, _) => match rest.find(']') {
                            Some(e) => e + 1,
                            None => return false,
                        },
                        (_, Some(Tok::Lit(l))) => {
                            let Some(c) = l.chars().next() else {
                                return false;
                            };
                            match rest.find(c) {
                                Some(e) => e,
                                None => return false,
                            }
                        }
                        _ => rest.len(),
                    };
                    let Some(text) = rest.get(..end) else {
                        return false;
                    };
                    if !kind.admits(text) {
                        return false;
                    }
                    set(*field, text);
                    p += end;
                }
            }
        }
        let mut q = line.len();
        for (i, t) in self.suffix.iter().enumerate().rev() {
            match t {
                Tok::Lit(l) => {
                    if q < p || !line[p..q].ends_with(l.as_str()) {
                        return false;
                    }
                    q -= l.len();
                }
                Tok::Var(kind, field) => {
                    let head = &line[p..q];
                    let start = match (kind, i.checked_sub(1).and_then(|j| self.suffix.get(j))) {
                        (Kind::Iso8601, _) => match head.len().checked_sub(ISO8601_LEN) {
                            Some(s) => s,
                            None => return false,
                        },
                        (_, Some(Tok::Lit(l))) => {
                            let Some(c) = l.chars().next_back() else {
                                return false;
                            };
                            match head.rfind(c) {
                                Some(s) => s + c.len_utf8(),
                                None => return false,
                            }
                        }
                        _ => return false,
                    };
                    let Some(text) = head.get(start..) else {
                        return false;
                    };
                    if !kind.admits(text) {
                        return false;
                    }
                    set(*field, text);
                    q = p + start;
                }
                // Client text comes before the last one only.
                Tok::Lazy(_) => return false,
            }
        }
        match self.free {
            Some(field) => {
                // `.` stops at a newline; a line has none, but the regex must agree.
                let text = &line[p..q];
                if text.contains('\n') {
                    return false;
                }
                set(field, text);
                true
            }
            None => p == line.len(),
        }
    }
}
