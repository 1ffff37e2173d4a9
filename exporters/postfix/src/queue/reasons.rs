//! Deferral reason classes: a closed set, so `postfix_queue_delay_reasons` has a fixed
//! number of series whatever remote servers write.

/// Closed set of deferral reason classes (`postfix_queue_delay_reasons{reason}`).
pub const REASONS: [&str; 12] = [
    "connection_refused",
    "timeout",
    "dns",
    "tls",
    "greylisted",
    "mailbox_full",
    "rate_limited",
    "transport_deferred",
    "4xx_other",
    "5xx_other",
    "other",
    "none",
];

/// Classifies a recipient's delay reason into [`REASONS`] (returns the index).
///
/// Specific causes win over the wrapper text, so `delivery temporarily suspended:
/// connect to …: Connection refused` counts as `connection_refused`; a bare
/// `deferred transport` or `delivery temporarily suspended` is `transport_deferred`.
pub fn classify_reason(reason: Option<&str>) -> usize {
    let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return 11;
    };
    let l = r.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| l.contains(n));
    if has(&["tls", "ssl", "starttls", "certificate"]) {
        3
    } else if has(&[
        "host or domain name not found",
        "name service error",
        "host not found",
        "no mx host",
        "nxdomain",
        "domain not found",
        "dns",
    ]) {
        2
    } else if has(&["connection refused"]) {
        0
    } else if has(&["timed out", "timeout", "conversation with"]) && has(&["timed out", "timeout"])
    {
        1
    } else if has(&["greylist", "graylist", "try again later", "please retry"]) {
        4
    } else if has(&[
        "quota",
        "mailbox full",
        "mailbox is full",
        "over quota",
        "insufficient storage",
        "552 5.2.2",
        "452 4.2.2",
        "4.2.2",
    ]) {
        5
    } else if has(&[
        "rate limit",
        "too many",
        "throttl",
        "rate-limit",
        "exceeded",
    ]) {
        6
    } else if has(&[
        "deferred transport",
        "temporarily suspended",
        "transport is unavailable",
    ]) {
        7
    } else if let Some(class) = smtp_class(&l) {
        if class == b'4' { 8 } else { 9 }
    } else {
        10
    }
}

/// Finds the first SMTP reply code (`4xx`/`5xx`) or enhanced status (`4.x.x`/`5.x.x`).
fn smtp_class(text: &str) -> Option<u8> {
    let b = text.as_bytes();
    for i in 0..b.len() {
        let c = b[i];
        if c != b'4' && c != b'5' {
            continue;
        }
        let before_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric() && b[i - 1] != b'.';
        if !before_ok {
            continue;
        }
        let rest = &b[i + 1..];
        let three_digits = rest.len() >= 2
            && rest[0].is_ascii_digit()
            && rest[1].is_ascii_digit()
            && rest.get(2).is_none_or(|x| !x.is_ascii_alphanumeric());
        let enhanced = rest.len() >= 3 && rest[0] == b'.' && rest[1].is_ascii_digit();
        if three_digits || enhanced {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_classified_into_the_closed_set() {
        let c = |s: &str| REASONS[classify_reason(Some(s))];
        assert_eq!(
            c("connect to 127.0.0.1[127.0.0.1]:2525: Connection refused"),
            "connection_refused"
        );
        assert_eq!(
            c(
                "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:2525: Connection refused"
            ),
            "connection_refused"
        );
        assert_eq!(c("deferred transport"), "transport_deferred");
        assert_eq!(
            c("connect to mx.example.com[192.0.2.1]:25: Connection timed out"),
            "timeout"
        );
        assert_eq!(
            c(
                "Host or domain name not found. Name service error for name=x type=MX: Host not found, try again"
            ),
            "dns"
        );
        assert_eq!(c("Cannot start TLS: handshake failure"), "tls");
        assert_eq!(
            c(
                "host mx[1.2.3.4] said: 450 4.7.1 <a@b>: Recipient address rejected: Greylisted, see http://x"
            ),
            "greylisted"
        );
        assert_eq!(c("host mx said: 452 4.2.2 Mailbox full"), "mailbox_full");
        assert_eq!(
            c("host mx said: 421 4.7.0 Too many concurrent connections"),
            "rate_limited"
        );
        assert_eq!(c("host mx said: 451 4.3.0 Internal error"), "4xx_other");
        assert_eq!(c("host mx said: 550 5.7.1 Go away"), "5xx_other");
        assert_eq!(
            c("lost connection with mx[1.2.3.4] while receiving the initial server greeting"),
            "other"
        );
        assert_eq!(REASONS[classify_reason(None)], "none");
        assert_eq!(REASONS[classify_reason(Some("  "))], "none");
    }
}
