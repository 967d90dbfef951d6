//! One pack: every batch of one `add_measures` call in one immutable file, so that a request
//! costs one file creation whatever its number of metrics.
//!
//! ```text
//! "GRP1"          magic
//! u32             entry count n
//! n × 28 bytes    entries sorted by (sack, metric): metric (16 bytes, RFC 4122 order),
//!                 sack u32, first record u32, record count u32
//! records         16-byte measures (engine.md §3.1), entry after entry
//! ```
//!
//! Integers are little-endian. Sorting by sack makes each sack's records one contiguous run, so
//! a sack pass reads one slice per pack.

use std::collections::HashMap;

use gnocchi_core::Measure;
use uuid::Uuid;

use super::super::{sack_of, MEASURE_BYTES};

const MAGIC: &[u8; 4] = b"GRP1";
/// Bytes before the entries: magic and entry count.
pub(super) const PREFIX_BYTES: usize = 8;
const ENTRY_BYTES: usize = 28;

/// One metric's batch in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub metric: Uuid,
    pub sack: u32,
    /// Index of its first record among the pack's records.
    pub first: u32,
    pub count: u32,
}

/// The entries of one pack, as read from its header.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Header {
    entries: Vec<Entry>,
}

impl Header {
    /// The number of entries (metrics) of the pack.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every entry, sorted by (sack, metric).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Offset of the first record in the file.
    fn records_offset(&self) -> u64 {
        (PREFIX_BYTES + self.entries.len() * ENTRY_BYTES) as u64
    }

    /// The entries of `sack`: a contiguous run of the sorted entries.
    pub fn sack_entries(&self, sack: u32) -> &[Entry] {
        let start = self.entries.partition_point(|e| e.sack < sack);
        let end = self.entries.partition_point(|e| e.sack <= sack);
        &self.entries[start..end]
    }

    /// Where one entry's records are in the file: (offset, bytes).
    pub fn entry_span(&self, e: &Entry) -> (u64, usize) {
        let offset = self.records_offset() + u64::from(e.first) * MEASURE_BYTES as u64;
        (offset, e.count as usize * MEASURE_BYTES)
    }

    /// Where the records of `sack`'s entries are in the file: (offset, bytes); `None` when the
    /// pack has none for that sack.
    pub fn sack_span(&self, sack: u32) -> Option<(u64, usize)> {
        let entries = self.sack_entries(sack);
        let (first, last) = (entries.first()?, entries.last()?);
        let records = (last.first - first.first + last.count) as usize;
        let offset = self.records_offset() + u64::from(first.first) * MEASURE_BYTES as u64;
        Some((offset, records * MEASURE_BYTES))
    }

    /// Decodes the header from the file's first bytes. `prefix` must hold at least
    /// [`PREFIX_BYTES`]; the result asks for more via `Err(Need(n))` when the entries are not
    /// all in it. `file_len` must match what the entries describe, or the pack is torn.
    pub fn parse(prefix: &[u8], file_len: u64, sacks: u32) -> Result<Header, ParseError> {
        if prefix.len() < PREFIX_BYTES {
            return Err(ParseError::Need(PREFIX_BYTES));
        }
        if &prefix[..4] != MAGIC {
            return Err(ParseError::Invalid("not a pack"));
        }
        let n = u32_at(prefix, 4) as usize;
        let header_len = PREFIX_BYTES + n * ENTRY_BYTES;
        if file_len < header_len as u64 {
            return Err(ParseError::Invalid("shorter than its header"));
        }
        if prefix.len() < header_len {
            return Err(ParseError::Need(header_len));
        }
        let mut entries = Vec::with_capacity(n);
        let mut next_record = 0u64;
        for raw in prefix[PREFIX_BYTES..header_len].chunks_exact(ENTRY_BYTES) {
            let metric = Uuid::from_bytes(raw[..16].try_into().expect("16 of 28 bytes"));
            let entry = Entry {
                metric,
                sack: u32_at(raw, 16),
                first: u32_at(raw, 20),
                count: u32_at(raw, 24),
            };
            let in_order = entries
                .last()
                .is_none_or(|p: &Entry| (p.sack, p.metric) < (entry.sack, entry.metric));
            if entry.sack != sack_of(metric, sacks)
                || !in_order
                || u64::from(entry.first) != next_record
                || entry.count == 0
            {
                return Err(ParseError::Invalid("entries out of order"));
            }
            next_record += u64::from(entry.count);
            entries.push(entry);
        }
        if file_len != header_len as u64 + next_record * MEASURE_BYTES as u64 {
            return Err(ParseError::Invalid("length does not match its entries"));
        }
        Ok(Header { entries })
    }
}

/// Why a pack's header could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ParseError {
    /// The first `n` bytes of the file are needed.
    Need(usize),
    /// The file is torn or not a pack.
    Invalid(&'static str),
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Encodes the non-empty batches of one call as a pack; `None` when all are empty. Batches of
/// the same metric are concatenated in call order into one entry. `Err` when the call holds
/// more than `u32::MAX` measures, which no request body can.
pub(super) fn encode(batches: &[(Uuid, Vec<Measure>)], sacks: u32) -> Result<Option<Vec<u8>>, ()> {
    let mut by_metric: HashMap<Uuid, Vec<&[Measure]>> = HashMap::new();
    for (metric, measures) in batches.iter().filter(|(_, ms)| !ms.is_empty()) {
        by_metric.entry(*metric).or_default().push(measures);
    }
    if by_metric.is_empty() {
        return Ok(None);
    }
    let mut order: Vec<(u32, Uuid)> = by_metric.keys().map(|m| (sack_of(*m, sacks), *m)).collect();
    order.sort_unstable();
    let total: usize = batches.iter().map(|(_, ms)| ms.len()).sum();
    u32::try_from(total).map_err(|_| ())?;
    let mut out =
        Vec::with_capacity(PREFIX_BYTES + order.len() * ENTRY_BYTES + total * MEASURE_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(order.len() as u32).to_le_bytes());
    let mut first = 0u32;
    for (sack, metric) in &order {
        let count: usize = by_metric[metric].iter().map(|ms| ms.len()).sum();
        out.extend_from_slice(metric.as_bytes());
        out.extend_from_slice(&sack.to_le_bytes());
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&(count as u32).to_le_bytes());
        first += count as u32;
    }
    for (_, metric) in &order {
        for measures in &by_metric[metric] {
            for m in measures.iter() {
                out.extend_from_slice(&m.timestamp.to_le_bytes());
                out.extend_from_slice(&m.value.to_le_bytes());
            }
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::super::super::decode_batch;
    use super::*;

    fn parse(bytes: &[u8], sacks: u32) -> Result<Header, ParseError> {
        Header::parse(bytes, bytes.len() as u64, sacks)
    }

    #[test]
    fn entries_are_sorted_by_sack_and_each_sack_is_one_run() {
        let sacks = 4;
        let metrics: Vec<Uuid> = (0..9u128).map(|i| Uuid::from_u128(i * 7 + 1)).collect();
        let batches: Vec<(Uuid, Vec<Measure>)> = metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let ms = (0..=i as i64).map(|k| Measure::new(k, i as f64)).collect();
                (*m, ms)
            })
            .collect();
        let bytes = encode(&batches, sacks).unwrap().unwrap();
        let header = parse(&bytes, sacks).unwrap();
        assert_eq!(header.entries.len(), 9);
        let mut seen = 0;
        for sack in 0..sacks {
            let entries = header.sack_entries(sack);
            let (offset, len) = header.sack_span(sack).unwrap();
            let run = &bytes[offset as usize..offset as usize + len];
            let mut at = 0;
            for e in entries {
                assert_eq!(sack_of(e.metric, sacks), sack);
                let mut ms = Vec::new();
                let n = e.count as usize * MEASURE_BYTES;
                decode_batch(&run[at..at + n], &mut ms).unwrap();
                at += n;
                let i = metrics.iter().position(|m| *m == e.metric).unwrap();
                assert_eq!(ms, batches[i].1);
                seen += 1;
            }
            assert_eq!(at, len, "the run holds exactly the sack's records");
        }
        assert_eq!(seen, 9);
        assert_eq!(header.sack_span(99), None);
    }

    #[test]
    fn batches_of_one_metric_merge_in_call_order_and_empty_ones_are_skipped() {
        let m = Uuid::from_u128(5);
        let batches = vec![
            (m, vec![Measure::new(2, 1.0)]),
            (Uuid::from_u128(6), vec![]),
            (m, vec![Measure::new(1, 2.0)]),
        ];
        let bytes = encode(&batches, 8).unwrap().unwrap();
        let header = parse(&bytes, 8).unwrap();
        assert_eq!(header.entries.len(), 1);
        let (offset, len) = header.sack_span(sack_of(m, 8)).unwrap();
        let mut ms = Vec::new();
        decode_batch(&bytes[offset as usize..offset as usize + len], &mut ms).unwrap();
        assert_eq!(ms, vec![Measure::new(2, 1.0), Measure::new(1, 2.0)]);
        assert_eq!(encode(&[(m, vec![])], 8), Ok(None));
    }

    #[test]
    fn torn_or_foreign_files_are_rejected() {
        // Sack 3 of 8, sack 11 of 16.
        let batches = vec![(Uuid::from_u128(11), vec![Measure::new(1, 1.0)])];
        let bytes = encode(&batches, 8).unwrap().unwrap();
        assert!(parse(&bytes, 8).is_ok());
        assert!(matches!(
            parse(&bytes[..bytes.len() - 1], 8),
            Err(ParseError::Invalid(_))
        ));
        assert_eq!(
            Header::parse(&bytes[..8], bytes.len() as u64, 8),
            Err(ParseError::Need(8 + 28))
        );
        assert_eq!(parse(&bytes[..3], 8), Err(ParseError::Need(8)));
        assert!(matches!(
            parse(b"GRP2\0\0\0\0", 8),
            Err(ParseError::Invalid(_))
        ));
        // Recorded for another sack count: the sack no longer matches the metric.
        assert!(matches!(parse(&bytes, 16), Err(ParseError::Invalid(_))));
    }
}
