//! The real-world corpus: log lines and daemon outputs from other projects' fixtures, kept
//! beside the repository (never in it: it is third-party data under its own licences).
//! Checks that need it run when it is there and say that they were skipped when it is not,
//! so a fresh clone passes without it.
//!
//! Where it is looked for: `$MAIL_CORPUS_DIR` when set, else a `shared/corpus` directory
//! next to the checkout (the layout the project was developed in).

use std::path::PathBuf;

use crate::workspace_root;

/// The corpus directory for `daemon` (`postfix`, `dovecot`, `proftpd`), or `None` after
/// printing why the calling check is skipped.
pub fn dir(daemon: &str, check: &str) -> Option<PathBuf> {
    let base = match std::env::var_os("MAIL_CORPUS_DIR") {
        Some(d) => PathBuf::from(d),
        None => workspace_root()
            .parent()
            .map(|p| p.join("shared").join("corpus"))
            .unwrap_or_default(),
    };
    let d = base.join(daemon);
    if d.is_dir() {
        Some(d)
    } else {
        println!(
            "{check}: skipped, no corpus at {} (set MAIL_CORPUS_DIR)",
            d.display()
        );
        None
    }
}
