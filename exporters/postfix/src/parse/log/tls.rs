//! `… TLS connection established from|to …` lines of smtpd, smtp/lmtp and tlsproxy.

use common::text::{rsplit_pat, split_pat};

/// TLS session direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsDirection {
    /// `… established from CLIENT` (smtpd, tlsproxy).
    Inbound,
    /// `… established to SERVER` (smtp, lmtp).
    Outbound,
}

/// `Anonymous TLS connection established from x[ip]: TLSv1.3 with cipher C (256/256 bits)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConnection<'a> {
    /// Direction.
    pub direction: TlsDirection,
    /// `Anonymous`, `Untrusted`, `Trusted` or `Verified`.
    pub trust: &'static str,
    /// `TLSv1.3` …
    pub protocol: &'a str,
    /// Cipher name.
    pub cipher: &'a str,
}

/// `TRUST TLS connection established (from|to) PEER: PROTO with cipher CIPHER (…)`.
pub fn parse_tls(body: &str) -> Option<TlsConnection<'_>> {
    // Most lines that reach here are not TLS lines: the first word rejects them cheaply.
    let (trust_word, rest) = common::text::split1(body, b' ')?;
    let rest = rest.strip_prefix("TLS connection established ")?;
    let trust = match trust_word {
        "Anonymous" => "Anonymous",
        "Untrusted" => "Untrusted",
        "Trusted" => "Trusted",
        "Verified" => "Verified",
        _ => return None,
    };
    let (direction, rest) = if let Some(r) = rest.strip_prefix("from ") {
        (TlsDirection::Inbound, r)
    } else if let Some(r) = rest.strip_prefix("to ") {
        (TlsDirection::Outbound, r)
    } else {
        return None;
    };
    // The peer may contain `:` (`host[ip]:port`, IPv6): the protocol follows the last `: `
    // before ` with cipher `.
    let (before_cipher, cipher_rest) = split_pat(rest, b" with cipher ")?;
    let (_, protocol) = rsplit_pat(before_cipher, b": ")?;
    let cipher = cipher_rest.split_once(' ').map_or(cipher_rest, |(c, _)| c);
    if protocol.is_empty() || protocol.contains(' ') || cipher.is_empty() {
        return None;
    }
    Some(TlsConnection {
        direction,
        trust,
        protocol,
        cipher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::{Event, ev};

    #[test]
    fn tls_lines() {
        let e = ev(
            "smtpd",
            "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519",
        );
        assert_eq!(
            e,
            Event::Tls(TlsConnection {
                direction: TlsDirection::Inbound,
                trust: "Anonymous",
                protocol: "TLSv1.3",
                cipher: "TLS_AES_256_GCM_SHA384"
            })
        );
        let e = ev(
            "smtp",
            "Verified TLS connection established to mx[2001:db8::1]:25: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
        );
        assert!(matches!(
            e,
            Event::Tls(TlsConnection {
                direction: TlsDirection::Outbound,
                trust: "Verified",
                protocol: "TLSv1.2",
                ..
            })
        ));
    }
}
