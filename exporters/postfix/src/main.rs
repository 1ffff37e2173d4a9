//! `postfix-exporter`: see the library crate for everything.

fn main() -> std::process::ExitCode {
    common::block_main(postfix_exporter::main_entry())
}
