//! Counter resets and 32-bit wraps between two dumps.
//!
//! Dovecot's statistics start from zero whenever the stats process starts again (a
//! `doveadm reload` restarts it, as does a crash) and when somebody sends `DUMP-RESET`. A
//! reset needs no correction: the counters really start again from zero, and a scraper's
//! `rate()` treats a value that went down as exactly that. It is detected (any count or
//! sum lower than in the previous dump) so that it is counted and logged.
//!
//! The event count is a 32-bit `unsigned int` in Dovecot, so a busy metric's count wraps
//! from 4294967295 to 0 while everything else keeps growing. Left alone that would look
//! like a reset of that one series and lose 2^32 events from `increase()`; so a count that
//! went from the top of the range to the bottom, in a dump where nothing else went down,
//! is a wrap: 2^32 is added to it from then on, and it stays monotonic.

use std::collections::HashMap;

use super::dump::{DumpRow, Stat};

/// 2^32: where Dovecot's event count wraps.
pub const COUNT_RANGE: f64 = 4_294_967_296.0;

/// How close to either end of the range a count must be to be taken as wrapped: more
/// events than this between two dumps would be a count growing by millions per scrape.
const WRAP_WINDOW: f64 = 16_777_216.0;

/// What one dump showed compared with the previous one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
    /// The statistics were reset (the stats process restarted, or a `DUMP-RESET`).
    pub reset: bool,
    /// Rows whose count wrapped at 2^32 in this dump.
    pub wrapped: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// The count as Dovecot sent it.
    raw_count: f64,
    /// The duration sum as sent.
    sum: f64,
    /// Wraps so far.
    wraps: u32,
}

/// The previous dump's counts, kept between scrapes.
#[derive(Debug, Default)]
pub struct ResetTracker {
    seen: HashMap<String, Seen>,
}

impl ResetTracker {
    /// A tracker that has seen no dump.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compares `rows` with the previous dump and adds the wraps seen so far to their
    /// counts.
    pub fn observe(&mut self, rows: &mut [DumpRow], requested: &[Stat]) -> Observation {
        let (Some(ci), si) = (
            requested.iter().position(|s| *s == Stat::Count),
            requested.iter().position(|s| *s == Stat::Sum),
        ) else {
            return Observation::default();
        };
        let value = |row: &DumpRow, i: usize| row.duration.0.get(i).copied().flatten();
        let mut obs = Observation::default();
        let mut wrapped = Vec::new();
        for row in rows.iter() {
            let (Some(count), Some(prev)) = (value(row, ci), self.seen.get(&row.name)) else {
                continue;
            };
            let sum = si.and_then(|i| value(row, i)).unwrap_or(0.0);
            if count < prev.raw_count {
                if prev.raw_count >= COUNT_RANGE - WRAP_WINDOW && count < WRAP_WINDOW {
                    wrapped.push(row.name.clone());
                } else {
                    obs.reset = true;
                }
            } else if sum < prev.sum {
                obs.reset = true;
            }
        }
        let mut next = HashMap::with_capacity(rows.len());
        for row in rows.iter_mut() {
            let Some(count) = value(row, ci) else {
                continue;
            };
            let mut wraps = if obs.reset {
                0
            } else {
                self.seen.get(&row.name).map_or(0, |s| s.wraps)
            };
            if !obs.reset && wrapped.contains(&row.name) {
                wraps += 1;
            }
            let sum = si.and_then(|i| value(row, i)).unwrap_or(0.0);
            if let Some(Some(c)) = row.duration.0.get_mut(ci) {
                *c = count + f64::from(wraps) * COUNT_RANGE;
            }
            next.insert(
                row.name.clone(),
                Seen {
                    raw_count: count,
                    sum,
                    wraps,
                },
            );
        }
        if !obs.reset {
            obs.wrapped = wrapped.len();
        }
        self.seen = next;
        obs
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::stats::StatValues;

    const REQ: [Stat; 2] = [Stat::Count, Stat::Sum];

    fn rows(v: &[(&str, f64, f64)]) -> Vec<DumpRow> {
        v.iter()
            .map(|(n, c, s)| DumpRow {
                name: n.to_string(),
                duration: StatValues(vec![Some(*c), Some(*s)]),
                fields: vec![],
            })
            .collect()
    }

    fn counts(r: &[DumpRow]) -> Vec<f64> {
        r.iter().map(|r| r.duration.0[0].unwrap()).collect()
    }

    #[test]
    fn growth_is_no_reset_and_a_drop_is() {
        let mut t = ResetTracker::new();
        let mut a = rows(&[("m", 5.0, 50.0), ("m_x", 2.0, 20.0)]);
        assert_eq!(t.observe(&mut a, &REQ), Observation::default());
        let mut b = rows(&[("m", 7.0, 70.0), ("m_x", 2.0, 20.0), ("m_y", 1.0, 3.0)]);
        assert!(!t.observe(&mut b, &REQ).reset);
        // After a restart sub-metrics are gone and the root starts again.
        let mut c = rows(&[("m", 1.0, 9.0)]);
        assert!(t.observe(&mut c, &REQ).reset);
        assert_eq!(counts(&c), [1.0]);
        // A sum that went down with an equal count is a reset too.
        let mut d = rows(&[("m", 1.0, 2.0)]);
        assert!(t.observe(&mut d, &REQ).reset);
        // Without a count column nothing can be said.
        let mut e = rows(&[("m", 0.0, 0.0)]);
        assert_eq!(
            t.observe(&mut e, &[Stat::Sum, Stat::Count][..1]),
            Observation::default()
        );
    }

    #[test]
    fn a_count_that_wraps_keeps_growing() {
        let top = COUNT_RANGE - 10.0;
        let mut t = ResetTracker::new();
        let mut a = rows(&[("busy", top, 1e12), ("quiet", 3.0, 30.0)]);
        t.observe(&mut a, &REQ);
        let mut b = rows(&[("busy", 5.0, 1.1e12), ("quiet", 4.0, 40.0)]);
        let o = t.observe(&mut b, &REQ);
        assert_eq!((o.reset, o.wrapped), (false, 1));
        assert_eq!(counts(&b), [COUNT_RANGE + 5.0, 4.0]);
        // The offset stays on later dumps.
        let mut c = rows(&[("busy", 9.0, 1.2e12), ("quiet", 4.0, 40.0)]);
        assert_eq!(t.observe(&mut c, &REQ).wrapped, 0);
        assert_eq!(counts(&c)[0], COUNT_RANGE + 9.0);
        // A restart clears it: everything starts from zero again.
        let mut d = rows(&[("busy", 1.0, 5.0), ("quiet", 0.0, 0.0)]);
        assert!(t.observe(&mut d, &REQ).reset);
        assert_eq!(counts(&d), [1.0, 0.0]);
    }

    #[test]
    fn a_restart_near_the_top_is_a_reset_not_a_wrap() {
        let mut t = ResetTracker::new();
        let mut a = rows(&[("busy", COUNT_RANGE - 1.0, 1e12), ("quiet", 3.0, 30.0)]);
        t.observe(&mut a, &REQ);
        let mut b = rows(&[("busy", 2.0, 10.0), ("quiet", 0.0, 0.0)]);
        let o = t.observe(&mut b, &REQ);
        assert_eq!((o.reset, o.wrapped), (true, 0));
        assert_eq!(counts(&b), [2.0, 0.0]);
    }
}
