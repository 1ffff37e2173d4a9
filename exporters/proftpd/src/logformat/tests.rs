#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn the_default_format_with_quotes_inside_the_request() {
    let f = LogFormat::new(DEFAULT_FORMAT).unwrap();
    let v = f
        .parse(r#"127.0.0.1 UNKNOWN alice [02/Dec/2026:10:00:00 +0000] "STOR my file with spaces.bin" 226 2048"#)
        .unwrap();
    assert_eq!(v.command, Some("STOR"));
    assert_eq!((v.status, v.bytes), (Some("226"), Some("2048")));
    // A quote and a `" 226 ` inside the client's file name: the anchored whole decides.
    let v = f
        .parse(r#"127.0.0.1 UNKNOWN alice [02/Dec/2026:10:00:00 +0000] "STOR a" 226 b.txt" 226 10"#)
        .unwrap();
    assert_eq!((v.status, v.bytes), (Some("226"), Some("10")));
    let v = f
        .parse(r#"127.0.0.1 UNKNOWN - [02/Dec/2026:10:00:00 +0000] "PASS (hidden)" 530 -"#)
        .unwrap();
    assert_eq!(
        (v.command, v.status, v.bytes),
        (Some("PASS"), Some("530"), None)
    );
    assert!(f.parse("garbage").is_none());
    assert!(f.has(Field::Request) && !f.has(Field::Command));
}

#[test]
fn a_metrics_format_and_a_pipe_format() {
    let f = LogFormat::new(
        "%{iso8601} %a %{remote-port} %P %{protocol} user=%u cmd=%m status=%s bytes=%b xfer_ms=%{transfer-millisecs} xfer_status=%{transfer-status} file=\"%f\" resp_ms=%R reason=\"%E\" resp=\"%S\"",
    )
    .unwrap();
    let v = f
        .parse(r#"2026-12-02 10:00:00,110 127.0.0.1 43124 20868 ftp user=alice cmd=RETR status=426 bytes=131072 xfer_ms=12 xfer_status=failed file="/h/a/big.bin" resp_ms=0 reason="" resp="Transfer aborted. Data connection closed""#)
        .unwrap();
    assert_eq!(v.command, Some("RETR"));
    assert_eq!(v.status, Some("426"));
    assert_eq!(v.bytes, Some("131072"));
    assert_eq!(v.transfer_status, Some("failed"));
    assert_eq!(v.transfer_millis, Some(12.0));
    assert_eq!(v.protocol, Some("ftp"));
    // Unescaped quotes inside the last free-text field.
    let v = f
        .parse(r#"2026-12-02 10:00:00,120 127.0.0.1 43124 20868 ftp user=alice cmd=MKD status=257 bytes=- xfer_ms=- xfer_status=- file="-" resp_ms=1 reason="" resp=""/sub" - Directory successfully created""#)
        .unwrap();
    assert_eq!(
        (v.command, v.status, v.bytes),
        (Some("MKD"), Some("257"), None)
    );
    let pipe = LogFormat::new("%t|%a|%u|%m|%s|%b|%T|%{transfer-status}|%F|%r").unwrap();
    let v = pipe
        .parse("[02/Dec/2026:10:00:00 +0000]|127.0.0.1|alice|STOR|226|10|0.250|success|/quo\"te|x.txt|STOR quo\"te|x.txt")
        .unwrap();
    assert_eq!(v.transfer_millis, Some(250.0));
    assert_eq!(v.command, Some("STOR"));
}

#[test]
fn unsupported_and_odd_formats() {
    assert_eq!(
        LogFormat::new("%h %Q").unwrap_err(),
        FormatError::Unsupported("%Q".into())
    );
    assert_eq!(
        LogFormat::new("%{bogus-thing} %s").unwrap_err(),
        FormatError::Unsupported("%{bogus-thing}".into())
    );
    assert_eq!(LogFormat::new("%h %").unwrap_err(), FormatError::Truncated);
    assert_eq!(
        LogFormat::new("%{protocol").unwrap_err(),
        FormatError::Truncated
    );
    let f = LogFormat::new("%{HOME}e %{%Y-%m-%d}t 100%% %m").unwrap();
    let v = f.parse("/root 2026-12-02 100% QUIT").unwrap();
    assert_eq!(v.command, Some("QUIT"));
}

/// Formats whose lines the regex-free split reads, and one it must leave to the regex.
const FAST_FORMATS: [&str; 5] = [
    DEFAULT_FORMAT,
    "%{epoch} %{protocol} %m %s %{transfer-status} %b %{transfer-millisecs} %R %a %u %E",
    "%v [%P] %h %t \"%r\" %s",
    "%{iso8601} %a %{remote-port} %P %{protocol} user=%u cmd=%m status=%s bytes=%b xfer_ms=%{transfer-millisecs} xfer_status=%{transfer-status} reason=\"%E\"",
    "%h %u %m %s %b %T",
];

#[test]
fn which_formats_split_without_the_regex() {
    for f in FAST_FORMATS {
        assert!(LogFormat::new(f).unwrap().is_fast(), "{f}");
    }
    for f in [
        // Client text right after client text; `%a` (`\S+`) cannot be ended by `|`.
        "%F%r",
        "%t|%a|%u|%m|%s|%b|%T|%{transfer-status}|%F|%r",
        // A variable right before the client text, and two variables side by side.
        "%m%F",
        "%s%b",
        // `%a` (`\S+`) cannot be ended by `=`.
        "%a=%m",
    ] {
        assert!(!LogFormat::new(f).unwrap().is_fast(), "{f}");
    }
}

proptest::proptest! {
    /// Whatever a line holds, the split agrees with the anchored regex.
    #[test]
    fn the_split_agrees_with_the_regex(
        fmt in 0..FAST_FORMATS.len(),
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("-".to_string()),
                "[0-9]{1,4}",
                "[a-zA-Z]{1,6}",
                "226|530|550|RETR|STOR|PASS|success|failed",
                "[ \"\\[\\]=.,:a٣0-]{0,6}",
                "\\PC{0,5}",
            ],
            1..24,
        ),
        seps in proptest::collection::vec("[ \"\\[\\]]", 24),
    ) {
        let f = LogFormat::new(FAST_FORMATS[fmt]).unwrap();
        let mut line = String::new();
        for (p, s) in parts.iter().zip(&seps) {
            line.push_str(p);
            line.push_str(s);
        }
        proptest::prop_assert_eq!(f.parse(&line), f.parse_regex(&line), "{}", line);
        // Lines in the format's own shape, with hostile client text.
        let text = parts.join(" ");
        let shaped = match fmt {
            0 => format!("127.0.0.1 UNKNOWN {} [02/Dec/2026:10:00:00 +0000] \"{}\" {} {}", parts[0], text, parts.get(1).map_or("226", |s| s), parts.get(2).map_or("-", |s| s)),
            1 => format!("1796233169 ftp {} {} {} {} 3 0 127.0.0.1 alice {}", parts[0], parts.get(1).map_or("226", |s| s), parts.get(2).map_or("-", |s| s), parts.get(3).map_or("-", |s| s), text),
            2 => format!("ftp.example.net [{}] 127.0.0.1 [02/Dec/2026:10:00:00 +0000] \"{}\" {}", parts[0], text, parts.get(1).map_or("230", |s| s)),
            3 => format!("2026-12-02 10:00:00,110 127.0.0.1 43124 {} ftp user={} cmd=RETR status=426 bytes=- xfer_ms=12 xfer_status=failed reason=\"{}\"", parts[0], parts.get(1).map_or("-", |s| s), text),
            _ => format!("127.0.0.1 {} STOR 226 {} {}", parts[0], parts.get(1).map_or("-", |s| s), parts.get(2).map_or("0.250", |s| s)),
        };
        proptest::prop_assert_eq!(f.parse(&shaped), f.parse_regex(&shaped), "{}", shaped);
    }
}

#[test]
fn the_split_reads_the_usual_lines() {
    let f = LogFormat::new(DEFAULT_FORMAT).unwrap();
    let l = r#"127.0.0.1 UNKNOWN alice [02/Dec/2026:10:00:00 +0000] "STOR a" 226 b.txt" 226 10"#;
    assert_eq!(f.parse(l), f.parse_regex(l));
    assert_eq!(f.parse(l).unwrap().bytes, Some("10"));
    let f = LogFormat::new(FAST_FORMATS[1]).unwrap();
    let v = f
        .parse("1796233169 ftps STOR 226 success 600 1 3 127.0.0.1 alice ")
        .unwrap();
    assert_eq!(
        (
            v.protocol,
            v.command,
            v.status,
            v.transfer_status,
            v.bytes,
            v.transfer_millis
        ),
        (
            Some("ftps"),
            Some("STOR"),
            Some("226"),
            Some("success"),
            Some("600"),
            Some(1.0)
        )
    );
}
