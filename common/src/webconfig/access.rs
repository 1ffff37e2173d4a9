//! Who may ask: basic-auth users with bcrypt hashes, and the `rate_limit` token bucket.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use anyhow::anyhow;
use base64::Engine;

use super::shown;

/// The exporter-toolkit's `rate_limit`: `burst` requests at once, one more per `interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Time to earn one more request.
    pub interval: std::time::Duration,
    /// Requests that may come at once.
    pub burst: u32,
}

/// A token bucket for [`RateLimit`] (one per server, shared by all clients like the
/// toolkit's).
#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    state: Mutex<(f64, std::time::Instant)>,
}

impl Limiter {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new((f64::from(limit.burst), std::time::Instant::now())),
        }
    }

    /// Takes one token; false when the bucket is empty.
    pub fn allow(&self) -> bool {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        let per = self.limit.interval.as_secs_f64();
        let earned = if per > 0.0 {
            now.duration_since(st.1).as_secs_f64() / per
        } else {
            f64::INFINITY
        };
        st.0 = (st.0 + earned).min(f64::from(self.limit.burst));
        st.1 = now;
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Successful verifications kept before the cache is emptied and refilled.
const AUTH_CACHE_SIZE: usize = 1024;

/// Basic-auth users with bcrypt hashes.
///
/// bcrypt is deliberately slow (tens of milliseconds at cost 10), so successful
/// verifications are cached, keyed by a keyed 128-bit hash of user and password (the
/// password itself is never stored). Unknown users are still checked against a dummy hash
/// so the response time does not tell which user names exist.
pub struct BasicAuth {
    users: Vec<(String, String)>,
    cache: Mutex<HashSet<u128>>,
    keys: (
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    ),
    dummy: OnceLock<String>,
    dummy_cost: u32,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes stay out of logs and debug output.
        f.debug_struct("BasicAuth")
            .field(
                "users",
                &self.users.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for BasicAuth {
    fn default() -> Self {
        Self::from_users(Vec::new())
    }
}

impl BasicAuth {
    /// Builds the checker from `(user, bcrypt hash)` pairs; hashes are validated.
    pub fn new(users: BTreeMap<String, String>) -> anyhow::Result<Self> {
        let mut list = Vec::with_capacity(users.len());
        for (user, hash) in users {
            // bcrypt's error repeats the value, which may be a password typed in by mistake.
            bcrypt::HashParts::from_str(&hash).map_err(|_| {
                anyhow!(
                    "user {}: the value is not a bcrypt hash (like $2y$10$ followed by 53 characters)",
                    shown(&user)
                )
            })?;
            list.push((user, hash));
        }
        Ok(Self::from_users(list))
    }

    fn from_users(users: Vec<(String, String)>) -> Self {
        let dummy_cost = users
            .iter()
            .filter_map(|(_, h)| bcrypt::HashParts::from_str(h).ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        Self {
            users,
            cache: Mutex::new(HashSet::new()),
            keys: Default::default(),
            dummy: OnceLock::new(),
            dummy_cost,
        }
    }

    /// Names of the configured users.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|(u, _)| u.as_str())
    }

    /// True when the `Authorization` header carries valid credentials.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return false;
        };
        // Compare against every user without stopping early, so timing does not reveal
        // where (or whether) the name matched.
        let mut found: Option<&str> = None;
        for (u, h) in &self.users {
            if ct_eq(u.as_bytes(), &user) {
                found = Some(h.as_str());
            }
        }
        let key = self.cache_key(&user, &pass);
        let Some(hash) = found else {
            let dummy = self.dummy.get_or_init(|| {
                bcrypt::hash("mail-exporters dummy password", self.dummy_cost).unwrap_or_default()
            });
            let _ = bcrypt::verify(&pass, dummy);
            return false;
        };
        if self.cache.lock().map(|c| c.contains(&key)).unwrap_or(false) {
            return true;
        }
        let ok = bcrypt::verify(&pass, hash).unwrap_or(false);
        if ok && let Ok(mut c) = self.cache.lock() {
            if c.len() >= AUTH_CACHE_SIZE {
                c.clear();
            }
            c.insert(key);
        }
        ok
    }

    fn cache_key(&self, user: &[u8], pass: &[u8]) -> u128 {
        let one = |s: &std::collections::hash_map::RandomState| {
            let mut h = s.build_hasher();
            user.hash(&mut h);
            pass.hash(&mut h);
            h.finish()
        };
        (u128::from(one(&self.keys.0)) << 64) | u128::from(one(&self.keys.1))
    }
}

/// The user name of a `Basic` authorization header (for logs; never the password).
pub fn basic_user(header: &str) -> Option<String> {
    parse_basic(header).map(|(u, _)| String::from_utf8_lossy(&u).into_owned())
}

/// Splits `Basic base64(user:password)` into its parts.
fn parse_basic(header: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = raw.iter().position(|b| *b == b':')?;
    let (user, pass) = raw.split_at(colon);
    Some((user.to_vec(), pass.get(1..)?.to_vec()))
}

/// Equality whose running time depends only on the lengths.
pub(super) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}
