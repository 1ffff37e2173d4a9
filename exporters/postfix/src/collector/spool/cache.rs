//! The incremental walker's memory: one compact entry per queue file, keyed on the file's
//! (device, inode), holding the stamps it was read at and what the aggregator needs of the
//! message. Domains are interned and reference-counted, so the cache holds no address.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::read::Stat;
use crate::parse::QueuedMessage;
use crate::queue::{REASONS, classify_reason, qshape_domain};

/// A fast, unkeyed hash (the multiply-rotate of rustc's FxHash) for the maps a warm walk
/// looks up once or twice per message: their keys (inode numbers, queue file names) come
/// from the spool, which only Postfix writes, not from the network, so the flooding
/// resistance of the default SipHash buys nothing there and costs a few percent of a walk.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map hashed with [`FastHasher`].
pub(super) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Interned qshape domains, counted by the entries that use them, so that domains of
/// messages gone from the queue are freed.
#[derive(Debug, Default)]
pub(super) struct Interner {
    ids: HashMap<Box<str>, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
}

#[derive(Debug, Default)]
struct Slot {
    name: Box<str>,
    refs: u32,
}

impl Interner {
    /// The id of `name`, taking one reference.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name)
            && let Some(s) = self.slots.get_mut(id as usize)
        {
            s.refs += 1;
            return id;
        }
        let slot = Slot {
            name: name.into(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) if (id as usize) < self.slots.len() => {
                self.slots[id as usize] = slot;
                id
            }
            _ => {
                self.slots.push(slot);
                // More than 4 billion distinct domains cannot be held in memory anyway.
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.ids.insert(name.into(), id);
        id
    }

    /// Drops one reference to `id`, freeing the domain with the last one.
    pub fn release(&mut self, id: u32) {
        let Some(s) = self.slots.get_mut(id as usize) else {
            return;
        };
        s.refs = s.refs.saturating_sub(1);
        if s.refs == 0 {
            let name = std::mem::take(&mut s.name);
            self.ids.remove(&name);
            self.free.push(id);
        }
    }

    /// The domain of `id` (empty for an id that was never handed out).
    pub fn get(&self, id: u32) -> &str {
        self.slots.get(id as usize).map_or("", |s| &s.name)
    }

    /// Domains held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Recipients of one message sharing a domain and a reason class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Group {
    /// Interned qshape domain.
    pub domain: u32,
    /// Reason class (index in [`REASONS`]).
    pub class: u8,
    /// Recipients.
    pub count: u32,
}

/// A message's recipient groups: nearly every message has one, kept inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Groups {
    One(Group),
    Many(Box<[Group]>),
}

impl Groups {
    pub fn as_slice(&self) -> &[Group] {
        match self {
            Groups::One(g) => std::slice::from_ref(g),
            Groups::Many(v) => v,
        }
    }
}

/// What the aggregator needs of one message (the queue and the forced-expiry bit come
/// from where and how the file is found on each walk). Laid out compactly: there is one
/// per queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Summary {
    arrival_time: i64,
    size: u64,
    recipients: u32,
    /// Interned qshape domain of the sender.
    pub sender: u32,
    pub groups: Groups,
    /// [`HAS_ARRIVAL`] and [`HAS_SIZE`].
    known: u8,
}

const HAS_ARRIVAL: u8 = 1;
const HAS_SIZE: u8 = 2;

/// Bounded memo of reason text → class: a deferred queue repeats a handful of texts.
#[derive(Debug, Default)]
pub(super) struct ReasonClasses(HashMap<String, u8>);

const REASON_MEMO_LIMIT: usize = 4096;

impl ReasonClasses {
    fn class(&mut self, reason: Option<&str>) -> u8 {
        let Some(r) = reason else {
            return class_u8(classify_reason(None));
        };
        if let Some(&c) = self.0.get(r) {
            return c;
        }
        let c = class_u8(classify_reason(Some(r)));
        if self.0.len() < REASON_MEMO_LIMIT {
            self.0.insert(r.to_string(), c);
        }
        c
    }
}

fn class_u8(c: usize) -> u8 {
    // REASONS has 12 entries; anything else would be a bug in classify_reason, and is
    // folded into "other" rather than panicking.
    u8::try_from(c)
        .ok()
        .filter(|c| usize::from(*c) < REASONS.len())
        .unwrap_or(10)
}

impl Summary {
    /// The summary of a parsed message, taking references on its domains.
    pub fn of(msg: &QueuedMessage, domains: &mut Interner, reasons: &mut ReasonClasses) -> Self {
        let mut keyed: Vec<(String, u8)> = msg
            .recipients
            .iter()
            .map(|r| {
                (
                    qshape_domain(&r.address),
                    reasons.class(r.reason.as_deref()),
                )
            })
            .collect();
        // Group order is irrelevant (the aggregator only sums), so sort to merge duplicates.
        keyed.sort_unstable();
        let mut groups: Vec<Group> = Vec::new();
        let mut last: Option<&(String, u8)> = None;
        for k in &keyed {
            match groups.last_mut() {
                Some(g) if last == Some(k) => g.count = g.count.saturating_add(1),
                _ => groups.push(Group {
                    domain: domains.intern(&k.0),
                    class: k.1,
                    count: 1,
                }),
            }
            last = Some(k);
        }
        let groups = match groups.as_slice() {
            [g] => Groups::One(*g),
            _ => Groups::Many(groups.into_boxed_slice()),
        };
        let mut known = 0;
        if msg.arrival_time.is_some() {
            known |= HAS_ARRIVAL;
        }
        if msg.size.is_some() {
            known |= HAS_SIZE;
        }
        Self {
            arrival_time: msg.arrival_time.unwrap_or(0),
            size: msg.size.unwrap_or(0),
            // A queue file with 4 billion recipients would not fit in memory to read it.
            recipients: u32::try_from(msg.recipients.len()).unwrap_or(u32::MAX),
            sender: domains.intern(&qshape_domain(&msg.sender)),
            groups,
            known,
        }
    }

    /// Arrival time, unix seconds.
    pub fn arrival_time(&self) -> Option<i64> {
        (self.known & HAS_ARRIVAL != 0).then_some(self.arrival_time)
    }

    /// Content size in bytes.
    pub fn size(&self) -> Option<u64> {
        (self.known & HAS_SIZE != 0).then_some(self.size)
    }

    /// Recipients still queued.
    pub fn recipients(&self) -> u64 {
        u64::from(self.recipients)
    }

    /// Gives back the domain references.
    fn release(&self, domains: &mut Interner) {
        domains.release(self.sender);
        for g in self.groups.as_slice() {
            domains.release(g.domain);
        }
    }
}

/// One cached queue file.
#[derive(Debug)]
pub(super) struct Entry {
    /// The walk that last saw the file; entries not seen by a finished walk are dropped.
    pub seen: u32,
    /// Changed so shortly before it was read that a later change could carry the same
    /// stamps (coarse file system clocks): read it again on the next walk.
    pub racy: bool,
    /// Place of the defer log among the candidates ([`NO_DEFER_LOG`] for none).
    defer_place: u8,
    /// The queue file's stamps when read (device and inode are the key).
    mtime_ns: i64,
    ctime_ns: i64,
    size: u64,
    /// The defer log's stamps when read (meaningless without one).
    defer: Stat,
    pub summary: Summary,
}

/// [`Entry::defer_place`] of a message without a defer log.
const NO_DEFER_LOG: u8 = u8::MAX;

impl Entry {
    /// An entry for a file read with stamps `file` and defer log `defer`.
    pub fn new(
        seen: u32,
        racy: bool,
        file: &Stat,
        defer: Option<(u8, Stat)>,
        summary: Summary,
    ) -> Self {
        let (defer_place, defer) = match defer {
            Some((p, s)) if p != NO_DEFER_LOG => (p, s),
            _ => (NO_DEFER_LOG, Stat::default()),
        };
        Self {
            seen,
            racy,
            defer_place,
            mtime_ns: file.mtime_ns,
            ctime_ns: file.ctime_ns,
            size: file.size,
            defer,
            summary,
        }
    }

    /// The defer log read with the message: its place among the candidates and its stamps.
    pub fn defer(&self) -> Option<(u8, &Stat)> {
        (self.defer_place != NO_DEFER_LOG).then_some((self.defer_place, &self.defer))
    }

    /// Whether `now` (an lstat of the queue file) shows the file as it was read.
    pub fn same_file(&self, now: &Stat) -> bool {
        self.mtime_ns == now.mtime_ns && self.ctime_ns == now.ctime_ns && self.size == now.size
    }
}

/// The entries, in a slab indexed from a (device, inode) map: the slab grows in place and
/// reuses the slots of dropped files, so steady state allocates nothing.
#[derive(Debug, Default)]
pub(super) struct Cache {
    index: FastMap<(u64, u64), u32>,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    pub domains: Interner,
    pub reasons: ReasonClasses,
}

impl Cache {
    /// Cached files.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of (device, inode), if cached.
    pub fn find(&self, dev: u64, ino: u64) -> Option<u32> {
        self.index.get(&(dev, ino)).copied()
    }

    /// The entry in `slot`.
    pub fn get(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// The entry in `slot`, to mark it seen.
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Entry> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Stores `entry` for the file `(dev, ino)`, replacing what was cached for it; returns
    /// its slot.
    pub fn put(&mut self, dev: u64, ino: u64, entry: Entry) -> u32 {
        if let Some(slot) = self.find(dev, ino)
            && let Some(old) = self.slots.get_mut(slot as usize)
        {
            if let Some(e) = old.replace(entry) {
                e.summary.release(&mut self.domains);
            }
            return slot;
        }
        let slot = match self.free.pop() {
            Some(s) if (s as usize) < self.slots.len() => {
                self.slots[s as usize] = Some(entry);
                s
            }
            _ => {
                self.slots.push(Some(entry));
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.index.insert((dev, ino), slot);
        slot
    }

    /// Drops every entry the walk `seen` did not see (files gone from the queue).
    pub fn sweep(&mut self, seen: u32) {
        let Self {
            index,
            slots,
            free,
            domains,
            ..
        } = self;
        index.retain(|_, slot| {
            let keep = slots
                .get(*slot as usize)
                .and_then(Option::as_ref)
                .is_some_and(|e| e.seen == seen);
            if !keep {
                if let Some(e) = slots.get_mut(*slot as usize).and_then(Option::take) {
                    e.summary.release(domains);
                }
                free.push(*slot);
            }
            keep
        });
        // A queue that shrank for good gives its memory back instead of keeping the peak.
        if slots.len() > 1024 && index.len() < slots.len() / 4 {
            self.compact();
        }
    }

    /// Rebuilds the slab without holes.
    fn compact(&mut self) {
        let mut slots = Vec::with_capacity(self.index.len());
        let old = &mut self.slots;
        self.index.retain(|_, slot| {
            let Some(e) = old.get_mut(*slot as usize).and_then(Option::take) else {
                return false;
            };
            slots.push(Some(e));
            *slot = u32::try_from(slots.len() - 1).unwrap_or(u32::MAX);
            true
        });
        self.slots = slots;
        self.free = Vec::new();
        self.index.shrink_to_fit();
    }

    /// Forgets everything (the next walk reads every file).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}
