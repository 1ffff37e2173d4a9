//! String splitting for log parsers' hot paths. `str::split_once` with a `&str` pattern
//! builds a substring searcher on every call; for the short separators of log lines
//! (`": "`, `", "`) that set-up was about a tenth of a Postfix line's cost, and core's char
//! searcher costs more per call than a byte scan. These find the first byte with a plain
//! byte scan (the tokens are short: a SIMD search's set-up costs more than it saves,
//! measured with callgrind) and check the rest. The separators are ASCII, so every cut
//! falls on a character boundary.

/// Position of the first `c` in `b`.
#[inline]
fn find(b: &[u8], c: u8) -> Option<usize> {
    b.iter().position(|&x| x == c)
}

/// `s.split_once(c)` for an ASCII byte (core's char searcher costs more per call, and
/// this runs a dozen times per line).
#[inline]
pub fn split1(s: &str, c: u8) -> Option<(&str, &str)> {
    let at = find(s.as_bytes(), c)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// `s.split(' ')`, with [`split1`].
pub fn words(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match split1(r, b' ') {
            Some((w, tail)) => {
                rest = Some(tail);
                Some(w)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `s.rsplit_once(c)` for an ASCII byte.
#[inline]
pub fn rsplit1(s: &str, c: u8) -> Option<(&str, &str)> {
    let at = s.as_bytes().iter().rposition(|&x| x == c)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// `s.split_once(pat)` for a short ASCII separator (`>, `, ` from `).
#[inline]
pub fn split_pat<'a>(s: &'a str, pat: &[u8]) -> Option<(&'a str, &'a str)> {
    let (&first, more) = pat.split_first()?;
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = find(b.get(from..)?, first) {
        let at = from + i;
        if b.get(at + 1..at + 1 + more.len()) == Some(more) {
            return Some((s.get(..at)?, s.get(at + pat.len()..)?));
        }
        from = at + 1;
    }
    None
}

/// `s.rsplit_once(pat)` for a short ASCII separator (`>, `, `: `).
#[inline]
pub fn rsplit_pat<'a>(s: &'a str, pat: &[u8]) -> Option<(&'a str, &'a str)> {
    let (&last, more) = pat.split_last()?;
    let b = s.as_bytes();
    let mut end = b.len();
    while let Some(i) = b.get(..end)?.iter().rposition(|&x| x == last) {
        if let Some(start) = i.checked_sub(more.len())
            && b.get(start..i) == Some(more)
        {
            return Some((s.get(..start)?, s.get(i + 1..)?));
        }
        end = i;
    }
    None
}

/// `s.contains(pat)` for a short ASCII pattern.
#[inline]
pub fn contains_pat(s: &str, pat: &[u8]) -> bool {
    pat.is_empty() || split_pat(s, pat).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_split_once() {
        for s in [
            "", ":", ": ", "a: b", "a:b: c", "a:", "::  ", "é: ü", "x, y, z", "a,b", ",", "ab: ",
            ": x", "a b  c ", " ",
        ] {
            assert_eq!(split_pat(s, b": "), s.split_once(": "), "{s:?}");
            assert_eq!(split_pat(s, b", "), s.split_once(", "), "{s:?}");
            assert_eq!(split_pat(s, b">, "), s.split_once(">, "), "{s:?}");
            assert_eq!(split_pat(s, b" from "), s.split_once(" from "), "{s:?}");
            for pat in [": ", ", ", ">, ", " from ", ":"] {
                assert_eq!(
                    rsplit_pat(s, pat.as_bytes()),
                    s.rsplit_once(pat),
                    "{s:?} {pat:?}"
                );
                assert_eq!(
                    contains_pat(s, pat.as_bytes()),
                    s.contains(pat),
                    "{s:?} {pat:?}"
                );
            }
            assert_eq!(split1(s, b':'), s.split_once(':'), "{s:?}");
            assert_eq!(rsplit1(s, b':'), s.rsplit_once(':'), "{s:?}");
            assert_eq!(
                words(s).collect::<Vec<_>>(),
                s.split(' ').collect::<Vec<_>>()
            );
        }
    }

    proptest::proptest! {
        /// Strings over the separators' own bytes, where overlaps and near-misses abound.
        #[test]
        fn pattern_splits_agree_with_core(s in "[:, >a-z]{0,24}", pat in "[:, >]{1,3}") {
            proptest::prop_assert_eq!(split_pat(&s, pat.as_bytes()), s.split_once(pat.as_str()));
            proptest::prop_assert_eq!(rsplit_pat(&s, pat.as_bytes()), s.rsplit_once(pat.as_str()));
            proptest::prop_assert_eq!(contains_pat(&s, pat.as_bytes()), s.contains(pat.as_str()));
        }
    }
}
