//! Throwaway certificates for TLS tests: a CA, a server certificate it signed, a client
//! certificate it signed, and a client certificate from a CA nobody trusts.
//!
//! Shared by the common crate's HTTP and web-config tests and by the end-to-end tests that
//! give a real daemon (Postfix's smtpd, later Dovecot and ProFTPd) a certificate.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use tempfile::TempDir;

use crate::temp_dir;

/// Names in the server certificate: loopback as an IP and a name, and the test Postfix's
/// `myhostname`.
pub const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "localhost", crate::postfix::MYHOSTNAME];

/// A fresh PKI in its own temp dir.
///
/// Files written there: `ca.crt` (the CA), `server.crt` and `server.key` (for
/// [`SERVER_NAMES`]), `client.crt` and `client.key` (client-auth usage, signed by the CA),
/// `other.key` (a key matching no certificate) and `garbage.crt` (not PEM), so web-config
/// files can name them relatively.
#[derive(Debug)]
pub struct Pki {
    dir: TempDir,
    ca_pem: String,
    client_pem: String,
    stranger_pem: String,
}

impl Pki {
    /// Generates the keys and certificates (ECDSA P-256) and writes the files.
    pub fn new() -> Result<Pki> {
        let dir = temp_dir("pki-")?;
        let ca = ca_cert("mail-exporters test CA")?;

        let server_key = KeyPair::generate()?;
        let names: Vec<String> = SERVER_NAMES.iter().map(|n| n.to_string()).collect();
        let server = CertificateParams::new(names)?.signed_by(&server_key, &ca)?;

        let client_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["scraper.example".to_string()])?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = params.signed_by(&client_key, &ca)?;

        let other_ca = ca_cert("untrusted test CA")?;
        let stranger_key = KeyPair::generate()?;
        let stranger = CertificateParams::new(vec!["stranger.example".to_string()])?
            .signed_by(&stranger_key, &other_ca)?;

        let files = [
            ("ca.crt", ca.pem()),
            ("server.crt", server.pem()),
            ("server.key", server_key.serialize_pem()),
            ("client.crt", client.pem()),
            ("client.key", client_key.serialize_pem()),
            ("other.key", KeyPair::generate()?.serialize_pem()),
            ("garbage.crt", "this is not PEM\n".to_string()),
        ];
        for (name, text) in &files {
            let p = dir.path().join(name);
            std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        }
        Ok(Pki {
            ca_pem: ca.pem(),
            client_pem: format!("{}{}", client.pem(), client_key.serialize_pem()),
            stranger_pem: format!("{}{}", stranger.pem(), stranger_key.serialize_pem()),
            dir,
        })
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `dir/name`, e.g. `pki.path("server.crt")`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `dir/name` (a config file next to the certificates it names) and
    /// returns the path.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let p = self.path(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        Ok(p)
    }

    /// The CA certificate, PEM: the root a client trusts.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Certificate and key of the trusted client, PEM, in the form
    /// `reqwest::Identity::from_pem` takes.
    pub fn client_pem(&self) -> &str {
        &self.client_pem
    }

    /// Certificate and key of a client whose CA the server does not trust, PEM.
    pub fn stranger_pem(&self) -> &str {
        &self.stranger_pem
    }
}

fn ca_cert(common_name: &str) -> Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}
