//! `mailprobe-exporter`: see the library crate for everything.

fn main() -> std::process::ExitCode {
    common::block_main(probe_exporter::main_entry())
}
