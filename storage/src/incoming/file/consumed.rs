//! What one sack has consumed of the packs: a small file per sack, rewritten whole under the
//! sack lock once per sack pass, so that a pass costs one write whatever its metric count.
//!
//! Text, one line per pack: `<pack> *` when every entry of the sack in that pack is consumed,
//! else `<pack> <metric> <metric>…` (simple-form uuids). A line that does not parse is ignored:
//! its entries are then read again, which at worst reprocesses measures already aggregated.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use uuid::Uuid;

use super::pack::Entry;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Consumed {
    packs: BTreeMap<String, Mark>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mark {
    /// Every entry of the sack in the pack.
    All,
    Metrics(BTreeSet<Uuid>),
}

impl Mark {
    /// Whether `metric`'s entry is consumed.
    pub fn contains(&self, metric: &Uuid) -> bool {
        match self {
            Mark::All => true,
            Mark::Metrics(m) => m.contains(metric),
        }
    }
}

impl Consumed {
    /// Reads a consumed file, skipping the packs that sort before `floor`, the oldest live pack:
    /// those are deleted, and what was consumed of them no longer matters. A file keeps them
    /// until its sack's next commit; they are cheap to skip, not to parse.
    pub fn parse_from(text: &str, floor: &str) -> Self {
        let mut packs = BTreeMap::new();
        for line in text.lines() {
            if line.get(..floor.len()).is_some_and(|name| name < floor) {
                continue;
            }
            let mut words = line.split_ascii_whitespace();
            let Some(pack) = words
                .next()
                .filter(|p| super::packs::is_pack_name(p) && *p >= floor)
            else {
                continue;
            };
            let rest: Vec<&str> = words.collect();
            let mark = if rest == ["*"] {
                Mark::All
            } else {
                let metrics: Option<BTreeSet<Uuid>> =
                    rest.iter().map(|w| Uuid::try_parse(w).ok()).collect();
                match metrics {
                    Some(m) if !m.is_empty() => Mark::Metrics(m),
                    _ => continue,
                }
            };
            packs.insert(pack.to_owned(), mark);
        }
        Self { packs }
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.packs.len() * 40);
        for (pack, mark) in &self.packs {
            out.push_str(pack);
            match mark {
                Mark::All => out.push_str(" *"),
                Mark::Metrics(metrics) => {
                    for m in metrics {
                        let _ = write!(out, " {}", m.simple());
                    }
                }
            }
            out.push('\n');
        }
        out
    }

    /// Whether `metric`'s entry in `pack` is consumed.
    #[cfg(test)]
    pub fn contains(&self, pack: &str, metric: Uuid) -> bool {
        self.of_pack(pack).is_some_and(|m| m.contains(&metric))
    }

    /// What is consumed of `pack`'s entries (`None`: nothing), to look the pack up once for
    /// many entries.
    pub fn of_pack(&self, pack: &str) -> Option<&Mark> {
        self.packs.get(pack)
    }

    /// Whether every entry of the sack in `pack` is consumed (after [`Self::settle`]).
    pub fn has_all(&self, pack: &str) -> bool {
        matches!(self.packs.get(pack), Some(Mark::All))
    }

    pub fn mark(&mut self, pack: &str, metric: Uuid) {
        match self
            .packs
            .entry(pack.to_owned())
            .or_insert(Mark::Metrics(BTreeSet::new()))
        {
            Mark::All => {}
            Mark::Metrics(m) => {
                m.insert(metric);
            }
        }
    }

    pub fn merge(&mut self, other: &Consumed) {
        for (pack, mark) in &other.packs {
            match mark {
                Mark::All => {
                    self.packs.insert(pack.clone(), Mark::All);
                }
                Mark::Metrics(metrics) => metrics.iter().for_each(|m| self.mark(pack, *m)),
            }
        }
    }

    /// Marks `All` the packs whose every entry of the sack is consumed (`entries` gives the
    /// sack's entries of the packs the caller lists, `newest` the last of them), and drops the
    /// packs it does not list that sort before `newest`: deleted. Those that sort after stay:
    /// such a pack is newer than the listing or past its window, another process may have
    /// consumed it, and forgetting that would process its batches twice.
    pub fn settle<'a>(&mut self, newest: &str, entries: impl Fn(&str) -> Option<&'a [Entry]>) {
        self.packs.retain(|pack, mark| {
            let Some(entries) = entries(pack) else {
                return pack.as_str() > newest;
            };
            if let Mark::Metrics(m) = mark {
                if entries.iter().all(|e| m.contains(&e.metric)) {
                    *mark = Mark::All;
                }
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P0: &str = "00000000000000000000_zz";
    const P1: &str = "00000000000000000001_aa";
    const P2: &str = "00000000000000000002_bb";

    fn entry(metric: Uuid) -> Entry {
        Entry {
            metric,
            sack: 0,
            first: 0,
            count: 1,
        }
    }

    #[test]
    fn round_trips_and_ignores_lines_it_cannot_read() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut c = Consumed::default();
        c.mark(P1, a);
        c.mark(P1, b);
        c.packs.insert(P2.into(), Mark::All);
        let text = c.render();
        assert_eq!(Consumed::parse_from(&text, ""), c);
        let noisy = format!("{text}garbage\n{P2}x\n../etc *\n{P1}\n");
        assert_eq!(Consumed::parse_from(&noisy, ""), c);
        assert!(c.contains(P1, a) && c.contains(P2, Uuid::from_u128(9)));
        assert!(!c.contains(P1, Uuid::from_u128(9)) && !c.has_all(P1));
    }

    #[test]
    fn parse_from_skips_the_packs_before_the_oldest_live_one() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut c = Consumed::default();
        c.mark(P1, a);
        c.mark(P2, b);
        let text = c.render();
        let newer = Consumed::parse_from(&text, P2);
        assert!(!newer.contains(P1, a) && newer.contains(P2, b));
        assert_eq!(Consumed::parse_from(&text, P1), c);
        assert_eq!(Consumed::parse_from(&text, ""), c);
        // A floor between two names, and one after every pack.
        assert_eq!(Consumed::parse_from(&text, "00000000000000000001_b"), newer);
        assert_eq!(Consumed::parse_from(&text, "1"), Consumed::default());
    }

    #[test]
    fn settle_completes_forgets_the_deleted_and_keeps_the_newer() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut c = Consumed::default();
        c.mark(P0, a);
        c.mark(P1, a);
        let mut other = Consumed::default();
        other.mark(P1, b);
        other.mark(P2, a);
        c.merge(&other);
        let p1 = [entry(a), entry(b)];
        c.settle(P1, |p| (p == P1).then_some(&p1[..]));
        assert!(c.has_all(P1));
        assert!(
            !c.contains(P0, a),
            "an older pack the caller does not list is deleted"
        );
        assert!(
            c.contains(P2, a),
            "a newer pack the caller does not list is kept"
        );
        assert!(!c.has_all(P2));
    }
}
