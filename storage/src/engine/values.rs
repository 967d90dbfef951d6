//! The value column shared by the split and raw formats. Two encodings, tagged by one byte:
//!
//! * `0` XOR (Gorilla-style): the first value's 64 bits, then per value `0` if equal to the
//!   previous one, else `1` + the XOR with the previous value as either `0` + its meaningful bits
//!   inside the previous leading/trailing-zero window, or `1` + 5 bits of leading zeros + 6 bits
//!   of (meaningful length − 1) + the meaningful bits. Handles any f64 (NaN payloads, ±inf, −0).
//! * `1` decimal: every value is exactly `m / 10^k` for integers `|m| <= 2^53` and one `k <= 12`
//!   (the common case of values rounded to a few decimals, counters, constants). Stores `k`, the
//!   delta order `d` (1 or 2, whichever packs smaller), the first `d` integers as zigzag varints,
//!   then the `d`-th differences zigzagged in a bit-packed integer column.

use super::bits::{
    get_int_column, put_int_column, put_varint, unzigzag, zigzag, BitReader, BitWriter, ByteReader,
};

const TAG_XOR: u8 = 0;
const TAG_DECIMAL: u8 = 1;
const MAX_DECIMALS: u8 = 12;
const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

/// Appends the encoding of `values` to `out`.
pub(crate) fn encode_values(out: &mut Vec<u8>, values: &[f64]) {
    if values.is_empty() {
        return;
    }
    if let Some((k, ints)) = as_decimal(values) {
        out.push(TAG_DECIMAL);
        out.push(k);
        encode_ints(out, &ints);
    } else {
        out.push(TAG_XOR);
        out.extend_from_slice(&encode_xor(values));
    }
}

/// Decodes exactly `n` values from the rest of `r` into `out`; `None` if corrupt.
pub(crate) fn decode_values(r: &mut ByteReader<'_>, n: usize, out: &mut Vec<f64>) -> Option<()> {
    if n == 0 {
        return Some(());
    }
    match r.u8()? {
        TAG_XOR => decode_xor(r.rest(), n, out),
        TAG_DECIMAL => {
            let k = r.u8()?;
            if k > MAX_DECIMALS {
                return None;
            }
            let scale = 10f64.powi(i32::from(k));
            let mut ints = Vec::new();
            decode_ints(r, n, &mut ints)?;
            out.extend(ints.iter().map(|&m| m as f64 / scale));
            Some(())
        }
        _ => None,
    }
}

/// `Some((k, m))` when every value is exactly `m_i / 10^k` with the smallest such `k`.
fn as_decimal(values: &[f64]) -> Option<(u8, Vec<i64>)> {
    let mut ints = Vec::with_capacity(values.len());
    'k: for k in 0..=MAX_DECIMALS {
        let scale = 10f64.powi(i32::from(k));
        ints.clear();
        for &v in values {
            if !v.is_finite() {
                return None;
            }
            let m = (v * scale).round();
            if m.abs() > MAX_EXACT {
                continue 'k;
            }
            let m = m as i64;
            if (m as f64 / scale).to_bits() != v.to_bits() {
                continue 'k;
            }
            ints.push(m);
        }
        return Some((k, ints));
    }
    None
}

/// Encodes integers as delta order, the first `order` values as varints, then the column.
pub(crate) fn encode_ints(out: &mut Vec<u8>, ints: &[i64]) {
    let d1: Vec<i64> = std::iter::once(ints[0])
        .chain(ints.windows(2).map(|w| w[1].wrapping_sub(w[0])))
        .collect();
    let (order, diffs) = if ints.len() >= 2 {
        let mut d2 = vec![ints[0], d1[1]];
        d2.extend(d1[1..].windows(2).map(|w| w[1].wrapping_sub(w[0])));
        if packed_bits(&d2[2..]) < packed_bits(&d1[1..]) {
            (2usize, d2)
        } else {
            (1, d1)
        }
    } else {
        (1, d1)
    };
    let order = order.min(ints.len());
    out.push(order as u8);
    for &f in &diffs[..order] {
        put_varint(out, zigzag(f));
    }
    let rest: Vec<u64> = diffs[order..].iter().map(|&x| zigzag(x)).collect();
    put_int_column(out, &rest);
}

/// Inverse of [`encode_ints`] for exactly `n >= 1` integers.
pub(crate) fn decode_ints(r: &mut ByteReader<'_>, n: usize, out: &mut Vec<i64>) -> Option<()> {
    let order = usize::from(r.u8()?);
    if !(1..=2).contains(&order) || order > n {
        return None;
    }
    let mut firsts = [0i64; 2];
    for f in firsts.iter_mut().take(order) {
        *f = unzigzag(r.varint()?);
    }
    let mut rest = Vec::new();
    get_int_column(r, n - order, &mut rest)?;
    out.reserve(n);
    let mut prev = firsts[0];
    out.push(prev);
    if order == 1 {
        for &d in &rest {
            prev = prev.wrapping_add(unzigzag(d));
            out.push(prev);
        }
    } else {
        let mut delta = firsts[1];
        prev = prev.wrapping_add(delta);
        out.push(prev);
        for &dd in &rest {
            delta = delta.wrapping_add(unzigzag(dd));
            prev = prev.wrapping_add(delta);
            out.push(prev);
        }
    }
    Some(())
}

/// The bits the column of `diffs` would take (per-block width × length + width headers).
fn packed_bits(diffs: &[i64]) -> u64 {
    diffs
        .chunks(128)
        .map(|b| {
            let or = b.iter().fold(0u64, |acc, &x| acc | zigzag(x));
            let width = or.checked_ilog2().map_or(0, |l| u64::from(l) + 1);
            7 + width * b.len() as u64
        })
        .sum()
}

fn encode_xor(values: &[f64]) -> Vec<u8> {
    let mut w = BitWriter::default();
    let mut prev = values[0].to_bits();
    w.write(prev, 64);
    // The current window: leading zeros and meaningful length; none before the first control.
    let mut window: Option<(u32, u32)> = None;
    for &v in &values[1..] {
        let bits = v.to_bits();
        let x = bits ^ prev;
        prev = bits;
        if x == 0 {
            w.bit(false);
            continue;
        }
        w.bit(true);
        let lz = x.leading_zeros().min(31);
        let tz = x.trailing_zeros();
        match window {
            Some((plz, plen)) if lz >= plz && tz >= 64 - plz - plen => {
                w.bit(false);
                w.write(x >> (64 - plz - plen), plen);
            }
            _ => {
                let len = 64 - lz - tz;
                w.bit(true);
                w.write(u64::from(lz), 5);
                w.write(u64::from(len - 1), 6);
                w.write(x >> tz, len);
                window = Some((lz, len));
            }
        }
    }
    w.finish()
}

fn decode_xor(data: &[u8], n: usize, out: &mut Vec<f64>) -> Option<()> {
    // Each value after the first takes at least one bit: bounds the allocation by the input.
    if n > data.len().saturating_mul(8) {
        return None;
    }
    let mut r = BitReader::new(data);
    let mut prev = r.read(64)?;
    out.reserve(n);
    out.push(f64::from_bits(prev));
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..n {
        if r.bit()? {
            let (lz, len) = if r.bit()? {
                let lz = r.read(5)? as u32;
                let len = r.read(6)? as u32 + 1;
                if lz + len > 64 {
                    return None;
                }
                window = Some((lz, len));
                (lz, len)
            } else {
                window?
            };
            let m = r.read(len)?;
            prev ^= m << (64 - lz - len);
        }
        out.push(f64::from_bits(prev));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[f64]) -> usize {
        let mut out = Vec::new();
        encode_values(&mut out, values);
        let mut back = Vec::new();
        decode_values(&mut ByteReader::new(&out), values.len(), &mut back).expect("decodes");
        let a: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u64> = back.iter().map(|v| v.to_bits()).collect();
        assert_eq!(a, b);
        out.len()
    }

    #[test]
    fn special_values_round_trip() {
        round_trip(&[
            f64::NAN,
            1.0,
            f64::INFINITY,
            -0.0,
            f64::NEG_INFINITY,
            1e-300,
            0.0,
        ]);
        round_trip(&[-0.0]);
        round_trip(&[1.5]);
        round_trip(&[1.25, 2.5]);
        round_trip(&[i64::MAX as f64, i64::MIN as f64, 1.0]);
    }

    #[test]
    fn decimals_use_the_decimal_encoding() {
        let v: Vec<f64> = (0..1000)
            .map(|i| ((i * 37 % 1001) as f64) / 100.0)
            .collect();
        let len = round_trip(&v);
        assert!(len < 1000 * 2, "{len}");
        let mut out = Vec::new();
        encode_values(&mut out, &v);
        assert_eq!(out[0], TAG_DECIMAL);
        assert_eq!(out[1], 2);
    }
}
