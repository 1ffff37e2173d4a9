//! Fixture loading and parser drivers shared by the `parse_*` test files.

// Each test file compiles its own copy of this module and uses only some helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;
use postfix_exporter::parse::mailq::{self, MailqError, MailqSummary};
use postfix_exporter::parse::postqueue_json::{self, JsonSummary};
use postfix_exporter::parse::showq::{self, Limits, ShowqError, StreamSummary};
use postfix_exporter::parse::{QueuedMessage, Recipient};

pub const REFUSED: &str = "connect to 127.0.0.1[127.0.0.1]:1: Connection refused";
pub const SUSPENDED: &str =
    "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:1: Connection refused";

pub fn fixture(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn text(rel: &str) -> String {
    String::from_utf8(fixture(rel)).unwrap()
}

/// A `key=value` from a capture's `now.txt`.
pub fn stamp(dir: &str, key: &str) -> i64 {
    text(&format!("postfix-3.7/{dir}/now.txt"))
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap()
        .parse()
        .unwrap()
}

pub fn at(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
}

pub fn showq_all(bytes: &[u8]) -> (Vec<QueuedMessage>, Result<StreamSummary, ShowqError>) {
    showq_with(bytes, &Limits::default())
}

pub fn showq_with(
    bytes: &[u8],
    limits: &Limits,
) -> (Vec<QueuedMessage>, Result<StreamSummary, ShowqError>) {
    let mut v = Vec::new();
    let r = showq::read_stream(bytes, limits, |m| v.push(m));
    (v, r)
}

pub fn json_all(bytes: &[u8]) -> (Vec<QueuedMessage>, JsonSummary) {
    let mut v = Vec::new();
    let s = postqueue_json::read_stream(bytes, |m| v.push(m)).unwrap();
    (v, s)
}

pub fn mailq_all(bytes: &[u8], now: i64) -> (Vec<QueuedMessage>, Result<MailqSummary, MailqError>) {
    let mut v = Vec::new();
    let r = mailq::read_stream_in(bytes, at(now), &TimeZone::UTC, |m| v.push(m));
    (v, r)
}

pub fn rcpt(address: &str, reason: Option<&str>) -> Recipient {
    Recipient {
        address: address.into(),
        reason: reason.map(Into::into),
        ..Recipient::default()
    }
}

pub fn rcpt311(
    orig: Option<&str>,
    addr: &str,
    class: Option<&str>,
    why: Option<&str>,
) -> Recipient {
    Recipient {
        address: addr.into(),
        reason: why.map(Into::into),
        orig_address: orig.map(Into::into),
        log_class: class.map(Into::into),
    }
}
