//! Passwords, read when a probe runs (a rotated Kubernetes Secret is picked up without a
//! reload) from a file or an environment variable. Errors name the source, never the
//! content.

use crate::config::sections::{Auth, PasswordSource};
use crate::session::{Fail, Reason};

/// The longest password file read (a wrong path to a large file must not fill memory).
const MAX_SECRET: u64 = 4096;

/// Reads the password of `auth`.
pub fn password(auth: &Auth) -> Result<String, Fail> {
    let value = match &auth.password {
        PasswordSource::File(p) => {
            use std::io::Read;
            let f = std::fs::File::open(p).map_err(|e| {
                Fail::new(
                    Reason::Config,
                    format!("password_file {}: {}", p.display(), e.kind()),
                )
            })?;
            let mut s = String::new();
            f.take(MAX_SECRET + 1).read_to_string(&mut s).map_err(|e| {
                Fail::new(
                    Reason::Config,
                    format!("password_file {}: {}", p.display(), e.kind()),
                )
            })?;
            if s.len() as u64 > MAX_SECRET {
                return Err(Fail::new(
                    Reason::Config,
                    format!(
                        "password_file {}: longer than {MAX_SECRET} bytes",
                        p.display()
                    ),
                ));
            }
            // Files written by `echo` or a Secret from `kubectl create --from-file` often
            // end in a newline that is not part of the password.
            let trimmed = s.strip_suffix('\n').unwrap_or(&s);
            trimmed.strip_suffix('\r').unwrap_or(trimmed).to_string()
        }
        PasswordSource::Env(name) => std::env::var(name).map_err(|_| {
            Fail::new(
                Reason::Config,
                format!("password_env {name}: not set (or not UTF-8)"),
            )
        })?,
    };
    if value.is_empty() {
        return Err(Fail::new(Reason::Config, "the password is empty"));
    }
    if value.contains(['\r', '\n', '\0']) {
        return Err(Fail::new(
            Reason::Config,
            "the password has a line break or NUL (it would break the protocol line)",
        ));
    }
    Ok(value)
}
