//! `--web.config.file` loading: fixtures of bad configs (each error names the file and
//! the problem) and good configs with throwaway certificates.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use common::webconfig::load;
use e2e_tests::pki::Pki;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webconfig")
        .join(name)
}

fn err_of(path: &Path) -> String {
    format!("{:#}", load(path).unwrap_err())
}

#[test]
fn unknown_key_names_file_key_and_line() {
    let e = err_of(&fixture("unknown_key.yml"));
    assert!(e.contains("unknown_key.yml"), "{e}");
    assert!(
        e.contains("http_server_config: unknown field `header`"),
        "{e}"
    );
    assert!(e.contains("expected `http2` or `headers`"), "{e}");
    assert!(e.contains("line 6 column 3"), "{e}");
}

#[test]
fn bad_yaml_names_file_and_position() {
    let e = err_of(&fixture("bad_yaml.yml"));
    assert!(e.contains("bad_yaml.yml"), "{e}");
    assert!(e.contains("line 3"), "{e}");
}

#[test]
fn missing_cert_file_names_both_files() {
    let e = err_of(&fixture("missing_cert.yml"));
    assert!(e.contains("missing_cert.yml"), "{e}");
    assert!(e.contains("tls_server_config"), "{e}");
    // Relative names are resolved against the config file's directory.
    let cert = fixture("does-not-exist.crt");
    assert!(
        e.contains(&format!("cert_file: cannot read {}", cert.display())),
        "{e}"
    );
    assert!(e.contains("No such file or directory"), "{e}");
}

#[test]
fn bad_hash_names_file_and_user() {
    let e = err_of(&fixture("bad_hash.yml"));
    assert!(e.contains("bad_hash.yml"), "{e}");
    assert!(e.contains("basic_auth_users"), "{e}");
    assert!(
        e.contains("user \"prometheus\": the value is not a bcrypt hash"),
        "{e}"
    );
    assert!(
        !e.contains("not-a-bcrypt-hash"),
        "the secret is not echoed: {e}"
    );
}

#[test]
fn bad_client_auth_type_lists_the_valid_ones() {
    let e = err_of(&fixture("bad_client_auth.yml"));
    assert!(e.contains("bad_client_auth.yml"), "{e}");
    assert!(e.contains("unknown variant `RequireClientCert`"), "{e}");
    assert!(e.contains("RequireAndVerifyClientCert"), "{e}");
    assert!(e.contains("line 4"), "{e}");
}

#[test]
fn missing_config_file() {
    let e = err_of(&fixture("nope.yml"));
    assert!(e.contains("nope.yml: cannot read"), "{e}");
    assert!(e.contains("No such file or directory"), "{e}");
}

#[test]
fn full_fixture_loads_with_real_certificates() {
    let pki = Pki::new().unwrap();
    let text = std::fs::read_to_string(fixture("full.yml")).unwrap();
    let p = pki.write("full.yml", &text).unwrap();
    let c = load(&p).unwrap();
    let tls = c.tls.expect("tls");
    assert_eq!(
        tls.alpn_protocols,
        vec![b"http/1.1".to_vec()],
        "http2: false"
    );
    assert_eq!(
        c.basic_auth.unwrap().users().collect::<Vec<_>>(),
        vec!["prometheus"]
    );
    assert_eq!(c.headers.len(), 1);
    assert_eq!(c.headers[0].0.as_str(), "x-content-type-options");
}

#[test]
fn key_that_does_not_match_the_certificate() {
    let pki = Pki::new().unwrap();
    let p = pki
        .write(
            "mismatch.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
        )
        .unwrap();
    let e = err_of(&p);
    assert!(e.contains("mismatch.yml"), "{e}");
    assert!(
        e.contains("other.key does not match the certificate in cert_file"),
        "{e}"
    );
    assert!(e.contains("server.crt"), "{e}");
}

#[test]
fn unreadable_pem_contents() {
    let pki = Pki::new().unwrap();
    let p = pki
        .write(
            "garbage.yml",
            "tls_server_config:\n  cert_file: garbage.crt\n  key_file: server.key\n",
        )
        .unwrap();
    let e = err_of(&p);
    assert!(
        e.contains("garbage.yml") && e.contains("garbage.crt: no PEM certificate found"),
        "{e}"
    );
    let p = pki
        .write(
            "garbage_key.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: garbage.crt\n",
        )
        .unwrap();
    let e = err_of(&p);
    assert!(e.contains("garbage.crt: no usable PEM private key"), "{e}");
}

#[test]
fn inconsistent_tls_options() {
    let pki = Pki::new().unwrap();
    let cases = [
        (
            "client_ca_file: ca.crt\n",
            "client_ca_file is set but client_auth_type is NoClientCert",
        ),
        (
            "client_auth_type: RequireAndVerifyClientCert\n",
            "client_auth_type RequireAndVerifyClientCert needs client_ca_file",
        ),
        (
            "min_version: TLS13\n  max_version: TLS12\n",
            "min_version TLS13 is above max_version TLS12",
        ),
        ("max_version: TLS11\n", "max_version TLS11 is not supported"),
        ("min_version: TLS14\n", "unknown variant `TLS14`"),
        (
            "client_allowed_sans: [a.example]\n",
            "client_allowed_sans is not supported",
        ),
        (
            "cert: inline\n",
            "cert and cert_file are mutually exclusive",
        ),
    ];
    for (extra, want) in cases {
        let p = pki
            .write(
                "case.yml",
                &format!(
                    "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  {extra}"
                ),
            )
            .unwrap();
        let e = err_of(&p);
        assert!(e.contains("case.yml") && e.contains(want), "{extra:?}: {e}");
    }
    // TLS10 as a minimum is accepted (rustls starts at 1.2 anyway); inline PEM works.
    let cert = std::fs::read_to_string(pki.path("server.crt")).unwrap();
    let key = std::fs::read_to_string(pki.path("server.key")).unwrap();
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    let p = pki
        .write(
            "inline.yml",
            &format!(
                "tls_server_config:\n  min_version: TLS10\n  cert: |\n{}  key: |\n{}",
                indent(&cert),
                indent(&key)
            ),
        )
        .unwrap();
    let c = load(&p).unwrap();
    assert_eq!(
        c.tls.unwrap().alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
}
