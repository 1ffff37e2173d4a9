//! `<ns>_exporter_build_info{version,revision,rustc}`.

use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// Crate version of the workspace, shared by every exporter.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git revision the binary was built from (`unknown` outside a checkout).
pub const REVISION: &str = env!("MAIL_EXPORTERS_REVISION");
/// `rustc --version` of the compiler that built the binary.
pub const RUSTC: &str = env!("MAIL_EXPORTERS_RUSTC");

/// Registers `<namespace>_exporter_build_info` (an info metric, value 1).
pub fn register(registry: &mut Registry, namespace: &str) {
    let info = Info::new(vec![
        ("version".to_string(), VERSION.to_string()),
        ("revision".to_string(), REVISION.to_string()),
        ("rustc".to_string(), RUSTC.to_string()),
    ]);
    registry.register(
        format!("{namespace}_exporter_build"),
        "Build facts of this exporter; the value is always 1",
        info,
    );
}
