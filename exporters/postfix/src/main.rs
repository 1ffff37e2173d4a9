//! `postfix-exporter`: see the library crate for everything.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    postfix_exporter::main_entry().await
}
