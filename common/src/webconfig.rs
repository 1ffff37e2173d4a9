//! `--web.config.file` in the Prometheus exporter-toolkit format: TLS and basic auth.

use std::path::Path;
use std::sync::Arc;

/// A loaded web configuration.
#[derive(Debug, Default)]
pub struct WebConfig {
    /// TLS server configuration, when `tls_server_config` is present.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic-auth users, when `basic_auth_users` is present.
    pub basic_auth: Option<BasicAuth>,
}

/// Basic-auth users with bcrypt hashes.
#[derive(Debug, Default)]
pub struct BasicAuth {}

impl BasicAuth {
    /// True when the `Authorization` header carries valid credentials.
    pub fn check(&self, _authorization: Option<&str>) -> bool {
        false
    }
}

/// Loads and validates the file; errors name the file and the problem.
pub fn load(path: &Path) -> anyhow::Result<WebConfig> {
    anyhow::bail!("{}: web config not supported yet", path.display())
}
