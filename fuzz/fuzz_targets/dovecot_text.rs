//! Dovecot's other inputs: the first byte picks the parser, the rest is its input —
//! doveadm output (stats dump and service status, any formatter), anvil's CONNECT-DUMP,
//! `doveadm who`, the director's HOST-LIST and DIRECTOR-LIST, an old-stats EXPORT of each
//! scope, process titles, and log lines through the log counters. None may panic, and
//! line-based parsers account for every non-empty line (a result or an error).
#![no_main]

use common::follow::LineHandler;
use dovecot_exporter::oldstats::{Scope, parse_export};
use dovecot_exporter::{director, log, proctitle, service, sessions, stats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let lines = text.lines().filter(|l| !l.is_empty()).count();
    match which % 9 {
        0 => {
            let _ = stats::doveadm::parse_doveadm(&text);
        }
        1 => {
            let _ = service::parse_service_status(&text);
        }
        2 => {
            let (ok, bad) = sessions::parse_connect_dump(&text);
            assert_eq!(ok.len() + bad.len(), lines);
            let _ = sessions::SessionCounts::of(&ok);
        }
        3 => {
            let _ = sessions::parse_who(&text);
        }
        4 => {
            let (ok, bad) = director::parse_hosts(&text);
            assert_eq!(ok.len() + bad.len(), lines);
        }
        5 => {
            let (ok, bad) = director::parse_ring(&text);
            assert_eq!(ok.len() + bad.len(), lines);
        }
        6 => {
            for scope in [
                Scope::Global,
                Scope::User,
                Scope::Domain,
                Scope::Ip,
                Scope::Session,
                Scope::Command,
            ] {
                if let Ok(e) = parse_export(scope, &text) {
                    assert!(e.rows.iter().all(|(_, v)| v.len() == e.columns.len()));
                }
            }
        }
        7 => {
            let _ = proctitle::parse_titles(text.lines(), "dovecot");
        }
        _ => {
            let m = log::LogMetrics::new();
            for l in text.lines() {
                let _ = m.handle_line(l);
            }
        }
    }
});
