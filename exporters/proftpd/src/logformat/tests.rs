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
