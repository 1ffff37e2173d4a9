//! Property tests of the log-line prefix parser: it never panics, and whatever
//! prefix is put in front of a message, the message comes back unchanged.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::SystemTime;

use common::logline::{self, PrefixFormat};
use proptest::prelude::*;

fn month() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ])
}

/// Postfix-like program names: `postfix/smtpd`, `postfix-out/submission/smtpd`, ...
fn program() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_.-]{0,10}(/[a-z][a-z0-9_.-]{0,10}){0,2}"
}

fn host() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9.-]{0,20}"
}

/// Any message that does not start with a space (RFC 5424 parsing drops leading
/// spaces and the BOM that marks UTF-8 there), including non-ASCII text, brackets and colons.
fn message() -> impl Strategy<Value = String> {
    "([^ \n\r\u{feff}][^\n\r]{0,80})?"
}

#[derive(Debug, Clone)]
enum Prefix {
    Bsd {
        pri: Option<u8>,
        padded_zero: bool,
        host: Option<String>,
    },
    Iso {
        host: Option<String>,
    },
    Rfc5424 {
        host: String,
        sd: bool,
    },
}

fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        (any::<Option<u8>>(), any::<bool>(), prop::option::of(host())).prop_map(
            |(pri, padded_zero, host)| Prefix::Bsd {
                pri,
                padded_zero,
                host
            }
        ),
        prop::option::of(host()).prop_map(|host| Prefix::Iso { host }),
        (host(), any::<bool>()).prop_map(|(host, sd)| Prefix::Rfc5424 { host, sd }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics(s in "\\PC*") {
        let _ = logline::parse(&s);
        for f in [PrefixFormat::Bsd, PrefixFormat::Iso, PrefixFormat::Rfc5424] {
            let _ = logline::parse_timestamp(&s, f, SystemTime::now());
        }
    }

    #[test]
    fn never_panics_on_near_misses(
        s in "(<[0-9]{0,4}>?)?(1 )?([0-9T:.+-]{0,40}|[A-Z][a-z]{2} [ 0-9]{0,3}[0-9:]{0,9}) ?[^\n]{0,40}",
        cri in any::<bool>(),
    ) {
        let line = if cri { format!("2026-11-22T23:15:40.043393123Z stdout F {s}") } else { s };
        if let Some(l) = logline::parse(&line) {
            let _ = logline::parse_timestamp(l.timestamp, l.format, SystemTime::now());
        }
    }

    #[test]
    fn message_round_trips(
        p in prefix(),
        mon in month(),
        day in 1u32..=28,
        prog in program(),
        pid in prop::option::of(1u32..4_000_000),
        msg in message(),
        cri in any::<bool>(),
    ) {
        let tag = match pid {
            Some(pid) => format!("{prog}[{pid}]"),
            None => prog.clone(),
        };
        let (line, format, want_host) = match &p {
            Prefix::Bsd { pri, padded_zero, host } => {
                let pri = pri.map(|p| format!("<{p}>")).unwrap_or_default();
                let day = if *padded_zero { format!("{day:02}") } else { format!("{day:>2}") };
                let h = host.as_ref().map(|h| format!("{h} ")).unwrap_or_default();
                (format!("{pri}{mon} {day} 23:02:10 {h}{tag}: {msg}"), PrefixFormat::Bsd, host.clone())
            }
            Prefix::Iso { host } => {
                let h = host.as_ref().map(|h| format!("{h} ")).unwrap_or_default();
                (format!("2026-11-{day:02}T23:15:40.043393+00:00 {h}{tag}: {msg}"), PrefixFormat::Iso, host.clone())
            }
            Prefix::Rfc5424 { host, sd } => {
                let pid = pid.map_or("-".to_string(), |p| p.to_string());
                let sd = if *sd { r#"[timeQuality tzKnown="1" isSynced="0"][x@1 a="b\]c"]"# } else { "-" };
                (format!("<22>1 2026-11-{day:02}T23:15:40.043393+00:00 {host} {prog} {pid} - {sd}  {msg}"), PrefixFormat::Rfc5424, Some(host.clone()))
            }
        };
        let line = if cri { format!("2026-11-22T23:15:40.043393123Z stdout F {line}") } else { line };
        let l = logline::parse(&line);
        prop_assert!(l.is_some(), "{}", line);
        let l = l.unwrap();
        prop_assert_eq!(l.message, msg.as_str(), "{}", line);
        prop_assert_eq!(l.program, prog.as_str());
        prop_assert_eq!(l.pid.map(str::to_string), pid.map(|p| p.to_string()));
        prop_assert_eq!(l.format, format);
        prop_assert_eq!(l.host.map(str::to_string), want_host);
        prop_assert!(logline::parse_timestamp(l.timestamp, l.format, SystemTime::now()).is_some());
    }
}
