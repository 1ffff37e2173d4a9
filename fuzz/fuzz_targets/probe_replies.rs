//! Every reply parser of the prober on hostile server output: SMTP/LMTP and FTP multi-line
//! replies, PASV/EPSV, IMAP response lines, literals, capabilities and SEARCH, POP3 status
//! lines and STAT, SASL challenges, and the allow list and target parsers (the request's
//! `target`): never panics, a parsed reply has the code of its lines, and a literal size
//! or a port stays in range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probe_exporter::reply::{ftp, imap, pop3, smtp};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut sb = smtp::ReplyBuilder::default();
    let mut fb = ftp::FtpReplyBuilder::default();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match sb.push(line) {
            Ok(Some(r)) => {
                assert!((100..600).contains(&r.code));
                let _ = (r.enhanced(), r.has_keyword("STARTTLS"), r.keyword_params("AUTH"), r.summary());
                let _ = smtp::queue_id(&r);
                sb = smtp::ReplyBuilder::default();
            }
            Ok(None) => {}
            Err(_) => sb = smtp::ReplyBuilder::default(),
        }
        match fb.push(line) {
            Ok(Some(r)) => {
                let text = r.lines.last().map(String::as_str).unwrap_or("");
                if let Ok(p) = ftp::parse_epsv(text) {
                    assert!(p > 0);
                }
                let _ = ftp::parse_pasv(text);
                fb = ftp::FtpReplyBuilder::default();
            }
            Ok(None) => {}
            Err(_) => fb = ftp::FtpReplyBuilder::default(),
        }
        if let Ok(imap::Response::Untagged(u)) = imap::parse_line(line) {
            let _ = (imap::capabilities(&u), imap::exists(&u), imap::search(&u));
        }
        if let Some(n) = imap::literal_size(line) {
            assert!(n < 1_000_000_000_000);
        }
        if let Ok(st) = pop3::parse_status(line) {
            let _ = pop3::parse_stat(&st.text);
        }
        let _ = pop3::unstuff(line);
        let _ = probe_exporter::prober::decode_challenge(line);
        let _ = probe_exporter::target::Target::parse(line, 25);
        let _ = probe_exporter::target::AllowList::parse(&[line.to_string()]);
        let _ = probe_exporter::prober::http::parse_url(line);
    }
});
