//! `dovecot-exporter`: see the library crate for everything.

fn main() -> std::process::ExitCode {
    common::block_main(dovecot_exporter::main_entry())
}
