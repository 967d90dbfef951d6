//! The raw ("bound") series format (ours): the deduplicated measures still in the back window.
//!
//! ```text
//! u8      format version (1)
//! varint  n
//! ...     timestamps (ns) as an integer sequence: delta order 1 or 2 (delta-of-delta), the
//!         first values as zigzag varints, the rest bit-packed (see `values.rs`)
//! ...     the n values (see `values.rs`)
//! ```

use super::bits::{put_varint, ByteReader};
use super::values::{decode_ints, decode_values, encode_ints, encode_values};
use super::Series;

const VERSION: u8 = 1;

/// Encodes a raw series (any length, including empty).
pub(crate) fn encode_raw(series: &Series) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + series.len() * 2);
    out.push(VERSION);
    put_varint(&mut out, series.len() as u64);
    if !series.is_empty() {
        encode_ints(&mut out, &series.ts);
        encode_values(&mut out, &series.values);
    }
    out
}

/// Decodes a raw series; `None` if corrupt (including non-increasing timestamps).
pub(crate) fn decode_raw(data: &[u8]) -> Option<Series> {
    let mut r = ByteReader::new(data);
    if r.u8()? != VERSION {
        return None;
    }
    let n = usize::try_from(r.varint()?).ok()?;
    let mut series = Series::default();
    if n == 0 {
        return r.at_end().then_some(series);
    }
    decode_ints(&mut r, n, &mut series.ts)?;
    if series.ts.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    decode_values(&mut r, n, &mut series.values)?;
    Some(series)
}
