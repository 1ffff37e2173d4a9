//! `tls_server_config`: certificates, keys, client authentication and protocol versions,
//! built into a rustls server configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<ClientAuthType>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum ClientAuthType {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

/// Reads inline PEM or a file (relative to the config's directory), naming the key on error.
fn pem_source(
    inline: Option<String>,
    file: Option<PathBuf>,
    base: &Path,
    inline_key: &str,
    file_key: &str,
) -> anyhow::Result<Option<(Vec<u8>, String)>> {
    match (inline, file) {
        (Some(_), Some(_)) => bail!("{inline_key} and {file_key} are mutually exclusive"),
        (Some(s), None) => Ok(Some((s.into_bytes(), format!("inline {inline_key}")))),
        (None, Some(f)) => {
            let full = if f.is_absolute() { f } else { base.join(f) };
            let bytes = std::fs::read(&full)
                .with_context(|| format!("{file_key}: cannot read {}", full.display()))?;
            Ok(Some((bytes, format!("{file_key} {}", full.display()))))
        }
        (None, None) => Ok(None),
    }
}

fn certs(pem: &[u8], what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{what}: invalid PEM certificate: {e}"))?;
    if certs.is_empty() {
        bail!("{what}: no PEM certificate found");
    }
    Ok(certs)
}

pub(super) fn build_tls(
    t: RawTls,
    base: &Path,
    http2: bool,
) -> anyhow::Result<rustls::ServerConfig> {
    if t.client_allowed_sans
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        bail!(
            "client_allowed_sans is not supported by this exporter; remove it or terminate TLS in a proxy"
        );
    }
    if t.cipher_suites.as_ref().is_some_and(|s| !s.is_empty()) {
        tracing::warn!(
            "web config: cipher_suites is ignored; rustls uses its own safe cipher suites"
        );
    }
    if t.prefer_server_cipher_suites.is_some() {
        tracing::warn!("web config: prefer_server_cipher_suites is ignored");
    }
    if t.curve_preferences.as_ref().is_some_and(|s| !s.is_empty()) {
        tracing::warn!("web config: curve_preferences is ignored; rustls uses its own safe curves");
    }

    let (cert_pem, cert_what) = pem_source(t.cert, t.cert_file, base, "cert", "cert_file")?
        .ok_or_else(|| anyhow!("missing cert_file (or cert)"))?;
    let (key_pem, key_what) = pem_source(t.key, t.key_file, base, "key", "key_file")?
        .ok_or_else(|| anyhow!("missing key_file (or key)"))?;
    let chain = certs(&cert_pem, &cert_what)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| anyhow!("{key_what}: no usable PEM private key: {e}"))?;

    let min = t.min_version.unwrap_or(TlsVersion::TLS12);
    let max = t.max_version.unwrap_or(TlsVersion::TLS13);
    if max < TlsVersion::TLS12 {
        bail!("max_version {max:?} is not supported (TLS 1.0 and 1.1 are not implemented)");
    }
    if min > max {
        bail!("min_version {min:?} is above max_version {max:?}");
    }
    if min < TlsVersion::TLS12 {
        tracing::warn!(min_version = ?min, "web config: TLS 1.0/1.1 are not implemented; the minimum is TLS 1.2");
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= TlsVersion::TLS12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::TLS13 {
        versions.push(&rustls::version::TLS13);
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .context("protocol versions")?;

    let auth = t.client_auth_type.unwrap_or(ClientAuthType::NoClientCert);
    let ca = pem_source(
        t.client_ca,
        t.client_ca_file,
        base,
        "client_ca",
        "client_ca_file",
    )?;
    let builder = match (auth, ca) {
        (ClientAuthType::NoClientCert, Some(_)) => {
            bail!(
                "client_ca_file is set but client_auth_type is NoClientCert; use RequireAndVerifyClientCert"
            )
        }
        (ClientAuthType::NoClientCert, None) => builder.with_no_client_auth(),
        (ClientAuthType::RequestClientCert | ClientAuthType::RequireAnyClientCert, _) => builder
            .with_client_cert_verifier(Arc::new(AnyClientCert {
                mandatory: auth == ClientAuthType::RequireAnyClientCert,
                algs: provider.signature_verification_algorithms,
            })),
        (
            ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert,
            None,
        ) => {
            bail!("client_auth_type {auth:?} needs client_ca_file (or client_ca)")
        }
        (
            ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert,
            Some((pem, what)),
        ) => {
            let mut roots = RootCertStore::empty();
            for c in certs(&pem, &what)? {
                roots
                    .add(c)
                    .map_err(|e| anyhow!("{what}: unusable CA certificate: {e}"))?;
            }
            let vb =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let vb = if auth == ClientAuthType::VerifyClientCertIfGiven {
                vb.allow_unauthenticated()
            } else {
                vb
            };
            let verifier = vb.build().map_err(|e| {
                anyhow!("{what}: cannot build the client certificate verifier: {e}")
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            anyhow!("{key_what} does not match the certificate in {cert_what}")
        }
        other => anyhow!("{cert_what} / {key_what}: {other}"),
    })?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// `RequestClientCert` / `RequireAnyClientCert`: a client certificate is asked for (or
/// required) but its chain is not verified, exactly as Go's `crypto/tls` does. The
/// handshake signature is still checked, so the client holds the key of what it presents.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
