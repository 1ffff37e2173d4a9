//! `proftpd-exporter`: see the library crate for everything.

fn main() -> std::process::ExitCode {
    common::block_main(proftpd_exporter::main_entry())
}
