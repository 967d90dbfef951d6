//! The split format (ours, engine.md §4 leaves it free). A split of granularity `g` and key `K`
//! holds buckets `K + s·g` for slots `s` in `0..3600`; timestamps are implied by slots:
//!
//! ```text
//! u8      format version (1)
//! varint  n, the number of present buckets
//! u8      layout: 0 = runs, 1 = bitmap, 2 = explicit
//!         runs:     (gap, run length) varint pairs over the slots until n slots are covered
//!         bitmap:   450 bytes, bit s (LSB-first) set when slot s is present
//!         explicit: offsets ts − K as an integer column (only for buckets off the slot grid)
//! ...     the n values (see `values.rs`)
//! ```
//!
//! The encoder picks the smaller of runs and bitmap: a full split's timestamps take 3 bytes.

use super::bits::{put_varint, ByteReader};
use super::values::{decode_ints, decode_values, encode_ints, encode_values};
use super::{Series, POINTS_PER_SPLIT};

const VERSION: u8 = 1;
const LAYOUT_RUNS: u8 = 0;
const LAYOUT_BITMAP: u8 = 1;
const LAYOUT_EXPLICIT: u8 = 2;
const SLOTS: usize = POINTS_PER_SPLIT as usize;
const BITMAP_BYTES: usize = SLOTS / 8;

/// Encodes the buckets of `series` (all inside split `key` of granularity `g`).
pub(crate) fn encode_split(key: i64, g: i64, series: &Series) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + series.len() * 2);
    out.push(VERSION);
    put_varint(&mut out, series.len() as u64);
    match slots_of(key, g, &series.ts) {
        Some(slots) => {
            let mut runs = Vec::new();
            let mut next = 0usize;
            let mut i = 0;
            while i < slots.len() {
                let start = slots[i];
                let mut j = i + 1;
                while j < slots.len() && slots[j] == slots[j - 1] + 1 {
                    j += 1;
                }
                put_varint(&mut runs, (start - next) as u64);
                put_varint(&mut runs, (j - i) as u64);
                next = start + (j - i);
                i = j;
            }
            if runs.len() <= BITMAP_BYTES {
                out.push(LAYOUT_RUNS);
                out.extend_from_slice(&runs);
            } else {
                out.push(LAYOUT_BITMAP);
                let mut bitmap = [0u8; BITMAP_BYTES];
                for &s in &slots {
                    bitmap[s / 8] |= 1 << (s % 8);
                }
                out.extend_from_slice(&bitmap);
            }
        }
        None => {
            out.push(LAYOUT_EXPLICIT);
            if !series.is_empty() {
                let offsets: Vec<i64> = series.ts.iter().map(|&t| t.wrapping_sub(key)).collect();
                encode_ints(&mut out, &offsets);
            }
        }
    }
    encode_values(&mut out, &series.values);
    out
}

/// Decodes a split written by [`encode_split`] for `key` and `g`; `None` if it is corrupt.
pub(crate) fn decode_split(data: &[u8], key: i64, g: i64) -> Option<Series> {
    let mut r = ByteReader::new(data);
    if r.u8()? != VERSION {
        return None;
    }
    let n = usize::try_from(r.varint()?).ok()?;
    let mut series = Series::default();
    match r.u8()? {
        LAYOUT_RUNS => {
            if n > SLOTS {
                return None;
            }
            series.ts.reserve(n);
            let mut next = 0u64;
            while series.ts.len() < n {
                let start = next.checked_add(r.varint()?)?;
                let len = r.varint()?;
                let end = start.checked_add(len)?;
                if len == 0 || end > SLOTS as u64 || series.ts.len() as u64 + len > n as u64 {
                    return None;
                }
                for s in start..end {
                    series.ts.push(slot_ts(key, g, s)?);
                }
                next = end;
            }
        }
        LAYOUT_BITMAP => {
            if n > SLOTS {
                return None;
            }
            let bitmap = r.bytes(BITMAP_BYTES)?;
            series.ts.reserve(n);
            for (byte_i, &byte) in bitmap.iter().enumerate() {
                let mut b = byte;
                while b != 0 {
                    let s = byte_i * 8 + b.trailing_zeros() as usize;
                    series.ts.push(slot_ts(key, g, s as u64)?);
                    b &= b - 1;
                }
            }
            if series.ts.len() != n {
                return None;
            }
        }
        LAYOUT_EXPLICIT => {
            if n > 0 {
                let mut offsets = Vec::new();
                decode_ints(&mut r, n, &mut offsets)?;
                for &o in &offsets {
                    let t = key.checked_add(o)?;
                    if series.ts.last().is_some_and(|&p| p >= t) {
                        return None;
                    }
                    series.ts.push(t);
                }
            }
        }
        _ => return None,
    }
    decode_values(&mut r, n, &mut series.values)?;
    Some(series)
}

/// The slot of each timestamp when all lie on the slot grid of the split, else `None`.
fn slots_of(key: i64, g: i64, ts: &[i64]) -> Option<Vec<usize>> {
    if g <= 0 {
        return None;
    }
    ts.iter()
        .map(|&t| {
            let d = t.checked_sub(key)?;
            if d < 0 || d % g != 0 || d / g >= POINTS_PER_SPLIT {
                return None;
            }
            Some((d / g) as usize)
        })
        .collect()
}

fn slot_ts(key: i64, g: i64, slot: u64) -> Option<i64> {
    key.checked_add(g.checked_mul(i64::try_from(slot).ok()?)?)
}
