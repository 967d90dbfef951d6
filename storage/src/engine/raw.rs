//! The raw ("bound") series format (ours): the deduplicated measures still in the back window.
//!
//! ```text
//! u8      format version (2; 1 is still read)
//! varint  n
//! u8      e, 0..=9: every timestamp is a multiple of 10^e ns (version 2 only, when n > 0)
//! ...     timestamps / 10^e as an integer sequence: delta order 1 or 2 (delta-of-delta), the
//!         first values as zigzag varints, the rest bit-packed (see `values.rs`)
//! ...     the n values (see `values.rs`)
//! ```
//!
//! Measures usually come in whole seconds: in seconds the first timestamp takes a 5-byte
//! varint instead of 9, and a regular step 1 byte instead of 6.

use super::bits::{put_varint, ByteReader};
use super::values::{decode_ints, decode_values, encode_ints, encode_values};
use super::Series;

const VERSION: u8 = 2;
/// The version without the timestamp scale.
const VERSION_NS: u8 = 1;
/// Largest timestamp scale: whole seconds.
const MAX_SCALE: u32 = 9;

/// Encodes a raw series (any length, including empty).
pub(crate) fn encode_raw(series: &Series) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + series.len() * 2);
    out.push(VERSION);
    put_varint(&mut out, series.len() as u64);
    if !series.is_empty() {
        let e = (0..=MAX_SCALE)
            .rev()
            .find(|&e| series.ts.iter().all(|t| t % 10i64.pow(e) == 0))
            .unwrap_or(0);
        out.push(e as u8);
        let unit = 10i64.pow(e);
        let scaled: Vec<i64> = series.ts.iter().map(|t| t / unit).collect();
        encode_ints(&mut out, &scaled);
        encode_values(&mut out, &series.values);
    }
    out
}

/// Decodes a raw series; `None` if corrupt (including non-increasing timestamps).
pub(crate) fn decode_raw(data: &[u8]) -> Option<Series> {
    let mut r = ByteReader::new(data);
    let version = r.u8()?;
    if version != VERSION && version != VERSION_NS {
        return None;
    }
    let n = usize::try_from(r.varint()?).ok()?;
    let mut series = Series::default();
    if n == 0 {
        return r.at_end().then_some(series);
    }
    let e = if version == VERSION {
        u32::from(r.u8()?)
    } else {
        0
    };
    if e > MAX_SCALE {
        return None;
    }
    decode_ints(&mut r, n, &mut series.ts)?;
    let unit = 10i64.pow(e);
    for t in &mut series.ts {
        *t = t.checked_mul(unit)?;
    }
    if series.ts.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    decode_values(&mut r, n, &mut series.values)?;
    Some(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(ts: Vec<i64>) -> Series {
        let values = (0..ts.len()).map(|i| i as f64 / 4.0).collect();
        Series { ts, values }
    }

    #[test]
    fn whole_seconds_are_stored_in_seconds_and_version_1_still_reads() {
        let seconds = series(
            (0..5)
                .map(|i| 1_700_000_000_000_000_000 + i * 60_000_000_000)
                .collect(),
        );
        let bytes = encode_raw(&seconds);
        assert_eq!(bytes[..3], [VERSION, 5, 9]);
        assert_eq!(decode_raw(&bytes), Some(seconds.clone()));
        // The same series in the nanosecond version takes more bytes and decodes alike.
        let mut v1 = vec![VERSION_NS, 5];
        encode_ints(&mut v1, &seconds.ts);
        encode_values(&mut v1, &seconds.values);
        assert!(
            v1.len() >= bytes.len() + 8,
            "{} vs {}",
            v1.len(),
            bytes.len()
        );
        assert_eq!(decode_raw(&v1), Some(seconds));

        let jittered = series(vec![-7, 1_000_000_003, 2_000_000_000]);
        let bytes = encode_raw(&jittered);
        assert_eq!(bytes[2], 0);
        assert_eq!(decode_raw(&bytes), Some(jittered));
        assert_eq!(
            decode_raw(&encode_raw(&Series::default())),
            Some(Series::default())
        );
    }

    #[test]
    fn bad_scales_are_corrupt() {
        let mut bytes = encode_raw(&series(vec![1_000_000_000, 2_000_000_000]));
        bytes[2] = 10;
        assert_eq!(decode_raw(&bytes), None);
        // A scale that overflows the timestamps.
        let mut bytes = encode_raw(&series(vec![i64::MAX / 10, i64::MAX / 10 + 1]));
        bytes[2] = 9;
        assert_eq!(decode_raw(&bytes), None);
    }
}
