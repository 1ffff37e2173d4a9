//! IMAP responses (RFC 9051/3501): untagged `* ...`, continuation `+ ...` and tagged
//! `TAG OK|NO|BAD text` lines, the capability list, `* N EXISTS` and SEARCH results, and
//! the `{N}` literal announced at a line's end.

use super::excerpt;

/// One response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `* ...`: data, or a status without a tag.
    Untagged(String),
    /// `+ ...`: the server waits for more (AUTHENTICATE, literals).
    Continue(String),
    /// `TAG STATUS text`.
    Tagged {
        /// The tag.
        tag: String,
        /// OK, NO or BAD (upper-cased).
        status: String,
        /// The rest.
        text: String,
    },
}

/// Parses one response line (a literal's bytes are read by the caller).
pub fn parse_line(line: &str) -> Result<Response, String> {
    if let Some(rest) = line.strip_prefix("* ") {
        return Ok(Response::Untagged(rest.to_string()));
    }
    if line == "+" || line.starts_with("+ ") {
        return Ok(Response::Continue(line.get(2..).unwrap_or("").to_string()));
    }
    let mut parts = line.splitn(3, ' ');
    let tag = parts.next().unwrap_or("");
    let status = parts.next().unwrap_or("").to_ascii_uppercase();
    let valid_tag = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
    if valid_tag && matches!(status.as_str(), "OK" | "NO" | "BAD" | "PREAUTH" | "BYE") {
        return Ok(Response::Tagged {
            tag: tag.to_string(),
            status,
            text: parts.next().unwrap_or("").to_string(),
        });
    }
    Err(format!("not an IMAP response: {:?}", excerpt(line)))
}

/// The size of the literal announced at the end of `line` (`... {42}` or `{42+}`).
pub fn literal_size(line: &str) -> Option<u64> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let n = inner[open + 1..].trim_end_matches('+');
    if n.is_empty() || n.len() > 12 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// Capabilities in an untagged `CAPABILITY ...` line or a greeting's `[CAPABILITY ...]`
/// response code, upper-cased; `None` when the line carries none.
pub fn capabilities(untagged: &str) -> Option<Vec<String>> {
    let list = if let Some(r) = strip_ci(untagged, "CAPABILITY ") {
        r
    } else {
        let open = untagged.find("[CAPABILITY ")?;
        let r = &untagged[open + 12..];
        &r[..r.find(']')?]
    };
    Some(
        list.split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect(),
    )
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `N` of an untagged `N EXISTS`.
pub fn exists(untagged: &str) -> Option<u64> {
    let (n, word) = untagged.split_once(' ')?;
    word.trim()
        .eq_ignore_ascii_case("EXISTS")
        .then(|| n.parse().ok())?
}

/// The numbers of an untagged `SEARCH 3 7` (empty for `SEARCH`).
pub fn search(untagged: &str) -> Option<Vec<u64>> {
    let rest = strip_ci(untagged, "SEARCH").filter(|r| r.is_empty() || r.starts_with(' '))?;
    rest.split_whitespace().map(|n| n.parse().ok()).collect()
}

/// An IMAP quoted string (for LOGIN arguments and mailbox names).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        assert_eq!(
            parse_line("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.").unwrap(),
            Response::Untagged(
                "OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.".into()
            )
        );
        let Response::Untagged(u) =
            parse_line("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            capabilities(&u).unwrap(),
            vec!["IMAP4REV1", "STARTTLS", "AUTH=PLAIN"]
        );
        assert_eq!(
            capabilities("capability IMAP4rev1 LOGINDISABLED").unwrap()[1],
            "LOGINDISABLED"
        );
        assert_eq!(capabilities("OK ready"), None);
        assert_eq!(
            parse_line("a3 NO [AUTHENTICATIONFAILED] Authentication failed.").unwrap(),
            Response::Tagged {
                tag: "a3".into(),
                status: "NO".into(),
                text: "[AUTHENTICATIONFAILED] Authentication failed.".into()
            }
        );
        assert_eq!(parse_line("+ ").unwrap(), Response::Continue("".into()));
        assert!(parse_line("garbage").is_err());
        assert!(parse_line("").is_err());
        assert_eq!(exists("3 EXISTS"), Some(3));
        assert_eq!(exists("3 RECENT"), None);
        assert_eq!(search("SEARCH 2 5"), Some(vec![2, 5]));
        assert_eq!(search("SEARCH"), Some(vec![]));
        assert_eq!(search("SEARCHX 1"), None);
        assert_eq!(literal_size("* 1 FETCH (BODY[] {342}"), Some(342));
        assert_eq!(literal_size("x {12+}"), Some(12));
        assert_eq!(literal_size("x {}"), None);
        assert_eq!(literal_size("x {99999999999999999}"), None);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
