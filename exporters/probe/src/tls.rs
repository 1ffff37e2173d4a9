//! The TLS client: rustls with the system's roots (or a module's `ca_file`), optional
//! client certificates, and what a probe exports about the session (version, cipher,
//! certificate expiry).

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::TlsConfig;
use crate::config::sections::TlsVersion;

/// What a TLS handshake tells about the server.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// `TLS 1.2`, `TLS 1.3` (blackbox_exporter's spelling).
    pub version: String,
    /// The cipher suite's IANA name.
    pub cipher: String,
    /// Earliest `notAfter` of the presented chain, Unix seconds.
    pub earliest_expiry: Option<i64>,
    /// Subject of the leaf certificate (for the debug output only).
    pub subject: String,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trust anchors, read once (a few hundred certificates; every probe would
/// otherwise parse them again).
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "reading the system's CA certificates");
        }
        let (added, _) = store.add_parsable_certificates(found.certs);
        tracing::debug!(added, "system CA certificates loaded");
        Arc::new(store)
    }))
}

fn read_pem_certs(path: &std::path::Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{}: no certificate in it",
        path.display()
    );
    Ok(certs)
}

/// Builds the client configuration of `cfg` (files are read now, so a renewed CA file is
/// used by the next probe). `alpn` is offered when not empty (HTTP).
pub fn client_config(cfg: &TlsConfig, alpn: &[&[u8]]) -> anyhow::Result<Arc<ClientConfig>> {
    use anyhow::Context;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match cfg.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .context("TLS versions")?;
    let builder = if cfg.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider())))
    } else if let Some(ca) = &cfg.ca_file {
        let mut store = RootCertStore::empty();
        for c in read_pem_certs(ca).context("tls_config.ca_file")? {
            store
                .add(c)
                .with_context(|| format!("tls_config.ca_file {}", ca.display()))?;
        }
        builder.with_root_certificates(store)
    } else {
        builder.with_root_certificates(system_roots())
    };
    let mut config = match (&cfg.cert_file, &cfg.key_file) {
        (Some(c), Some(k)) => {
            use rustls_pki_types::PrivateKeyDer;
            use rustls_pki_types::pem::PemObject;
            let certs = read_pem_certs(c).context("tls_config.cert_file")?;
            let key = PrivateKeyDer::from_pem_file(k)
                .map_err(|e| anyhow::anyhow!("tls_config.key_file {}: {e}", k.display()))?;
            builder
                .with_client_auth_cert(certs, key)
                .context("tls_config: client certificate and key")?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => anyhow::bail!("tls_config: cert_file and key_file go together"),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The name sent as SNI and checked in the certificate.
pub fn server_name(cfg: &TlsConfig, default: &str) -> anyhow::Result<ServerName<'static>> {
    let name = cfg.server_name.as_deref().unwrap_or(default);
    ServerName::try_from(name.to_string())
        .map_err(|_| anyhow::anyhow!("{name:?} is not a usable TLS server name"))
}

/// What the finished handshake of `conn` tells.
pub fn info(conn: &rustls::ClientConnection) -> TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        Some(_) => "other",
        None => "",
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("")
        .to_string();
    let mut earliest = None;
    let mut subject = String::new();
    for (i, der) in conn.peer_certificates().unwrap_or(&[]).iter().enumerate() {
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) {
            let t = cert.validity().not_after.timestamp();
            earliest = Some(earliest.map_or(t, |e: i64| e.min(t)));
            if i == 0 {
                subject = cert.subject().to_string().chars().take(200).collect();
            }
        }
    }
    TlsInfo {
        version: version.into(),
        cipher,
        earliest_expiry: earliest,
        subject,
    }
}

/// `insecure_skip_verify`: every certificate is accepted, signatures are still checked
/// (the handshake must be with the holder of the presented key).
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
