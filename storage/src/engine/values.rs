//! The value column shared by the split and raw formats. Four encodings, tagged by one byte:
//!
//! * `0` XOR (Gorilla-style): the first value's 64 bits, then per value `0` if equal to the
//!   previous one, else `1` + the XOR with the previous value as either `0` + its meaningful bits
//!   inside the previous leading/trailing-zero window, or `1` + 5 bits of leading zeros + 6 bits
//!   of (meaningful length − 1) + the meaningful bits. Handles any f64 (NaN payloads, ±inf, −0).
//! * `1` decimal: every value is exactly `m / 10^k` for integers `|m| <= 2^53` and one `k <= 12`
//!   (the common case of values rounded to a few decimals, counters, constants). Stores `k`, the
//!   delta order `d` (1 or 2, whichever packs smaller), the first `d` integers as zigzag varints,
//!   then the `d`-th differences zigzagged in a bit-packed integer column.
//! * `2` decimal, Rice-coded: as `1` up to the first integers, then the GCD `q >= 1` of the
//!   `d`-th differences (varint) and the differences divided by `q`, zigzagged, in a Rice column
//!   (`bits.rs`). The order `d` is the one with the smaller column. Written when smaller than `1`.
//! * `3` near-decimal: every value is within a few ulps of `m / 10^k` (means and rates of
//!   decimals, off by their float rounding). As `2`, then a Rice column of the zigzagged
//!   differences of the values' bits from those of `m / 10^k`. Written when smaller than `0`.

use super::bits::{
    get_int_column, get_rice_column, put_int_column, put_rice_column, put_varint, rice_plan,
    unzigzag, zigzag, BitReader, BitWriter, ByteReader,
};

const TAG_XOR: u8 = 0;
const TAG_DECIMAL: u8 = 1;
const TAG_DECIMAL_RICE: u8 = 2;
const TAG_NEAR_DECIMAL: u8 = 3;
/// Most ulps a near-decimal value lies from its decimal: a few roundings of a mean or a rate.
const MAX_ULPS: u64 = 8;
const MAX_DECIMALS: u8 = 12;
const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

/// Appends the encoding of `values` to `out`.
pub(crate) fn encode_values(out: &mut Vec<u8>, values: &[f64]) {
    if values.is_empty() {
        return;
    }
    if let Some((k, ints)) = as_decimal(values) {
        let mut packed = Vec::new();
        encode_ints(&mut packed, &ints);
        let mut rice = Vec::new();
        encode_rice_ints(&mut rice, &ints);
        let (tag, body) = if rice.len() < packed.len() {
            (TAG_DECIMAL_RICE, rice)
        } else {
            (TAG_DECIMAL, packed)
        };
        out.push(tag);
        out.push(k);
        out.extend_from_slice(&body);
    } else {
        let xor = encode_xor(values);
        if let Some(near) = encode_near_decimal(values).filter(|b| b.len() <= xor.len()) {
            out.extend_from_slice(&near);
        } else {
            out.push(TAG_XOR);
            out.extend_from_slice(&xor);
        }
    }
}

/// The [`TAG_NEAR_DECIMAL`] encoding of `values`, tag included, if they are near-decimal.
fn encode_near_decimal(values: &[f64]) -> Option<Vec<u8>> {
    let (k, ints, ulps) = as_near_decimal(values)?;
    let mut out = vec![TAG_NEAR_DECIMAL, k];
    encode_rice_ints(&mut out, &ints);
    put_rice_column(&mut out, &ulps, &rice_plan(&ulps));
    Some(out)
}

/// `Some((k, m, u))` when every value is within [`MAX_ULPS`] of `m_i / 10^k` (the smallest such
/// `k`), with `u_i` the zigzagged difference of their bits.
fn as_near_decimal(values: &[f64]) -> Option<(u8, Vec<i64>, Vec<u64>)> {
    as_scaled(values, MAX_ULPS)
}

/// `Some((k, m, u))` when every value is within `max_ulps` of `m_i / 10^k` (the smallest such
/// `k`), with `u_i` the zigzagged difference of their bits.
fn as_scaled(values: &[f64], max_ulps: u64) -> Option<(u8, Vec<i64>, Vec<u64>)> {
    let mut ints = Vec::with_capacity(values.len());
    let mut ulps = Vec::with_capacity(values.len());
    'k: for k in 0..=MAX_DECIMALS {
        let scale = 10f64.powi(i32::from(k));
        ints.clear();
        ulps.clear();
        for &v in values {
            if !v.is_finite() {
                return None;
            }
            let m = (v * scale).round();
            if m.abs() > MAX_EXACT {
                continue 'k;
            }
            // From the integer, as the decoder does: `m` may be −0.
            let m = m as i64;
            let off = (v.to_bits() as i64).wrapping_sub((m as f64 / scale).to_bits() as i64);
            if off.unsigned_abs() > max_ulps {
                continue 'k;
            }
            ints.push(m);
            ulps.push(zigzag(off));
        }
        return Some((k, ints, ulps));
    }
    None
}

/// Decodes exactly `n` values from the rest of `r` into `out`; `None` if corrupt.
pub(crate) fn decode_values(r: &mut ByteReader<'_>, n: usize, out: &mut Vec<f64>) -> Option<()> {
    if n == 0 {
        return Some(());
    }
    match r.u8()? {
        TAG_XOR => decode_xor(r.rest(), n, out),
        tag @ (TAG_DECIMAL | TAG_DECIMAL_RICE) => {
            let scale = read_scale(r)?;
            let mut ints = Vec::new();
            if tag == TAG_DECIMAL {
                decode_ints(r, n, &mut ints)?;
            } else {
                decode_rice_ints(r, n, &mut ints)?;
            }
            out.extend(ints.iter().map(|&m| m as f64 / scale));
            Some(())
        }
        TAG_NEAR_DECIMAL => {
            let scale = read_scale(r)?;
            let mut ints = Vec::new();
            decode_rice_ints(r, n, &mut ints)?;
            let mut ulps = Vec::new();
            get_rice_column(r, n, &mut ulps)?;
            out.extend(ints.iter().zip(&ulps).map(|(&m, &u)| {
                let bits = (m as f64 / scale).to_bits();
                f64::from_bits(bits.wrapping_add(unzigzag(u) as u64))
            }));
            Some(())
        }
        _ => None,
    }
}

/// `10^k` for the decimal count `k` read from `r`.
fn read_scale(r: &mut ByteReader<'_>) -> Option<f64> {
    let k = r.u8()?;
    (k <= MAX_DECIMALS).then(|| 10f64.powi(i32::from(k)))
}

/// `Some((k, m))` when every value is exactly `m_i / 10^k` with the smallest such `k`.
fn as_decimal(values: &[f64]) -> Option<(u8, Vec<i64>)> {
    as_scaled(values, 0).map(|(k, ints, _)| (k, ints))
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
    undelta(&firsts[..order], rest.iter().map(|&d| unzigzag(d)), out);
    Some(())
}

/// Encodes integers for [`TAG_DECIMAL_RICE`]: the delta order, the first `order` integers as
/// zigzag varints, the GCD of the differences and the reduced differences as a Rice column.
fn encode_rice_ints(out: &mut Vec<u8>, ints: &[i64]) {
    let mut best = reduced_diffs(ints, 1);
    if ints.len() >= 2 {
        let order_2 = reduced_diffs(ints, 2);
        // Total bit length: close to the Rice size, at a fraction of planning both.
        if bit_lengths(&order_2.2) < bit_lengths(&best.2) {
            best = order_2;
        }
    }
    let (firsts, gcd, column) = best;
    out.push(firsts.len() as u8);
    for &f in &firsts {
        put_varint(out, zigzag(f));
    }
    put_varint(out, gcd);
    put_rice_column(out, &column, &rice_plan(&column));
}

fn bit_lengths(column: &[u64]) -> u64 {
    column
        .iter()
        .map(|&x| u64::from(64 - x.leading_zeros()))
        .sum()
}

/// The first `order` integers, the GCD (at least 1) of the `order`-th differences and these
/// differences divided by it, zigzagged. Differences of integers within ±2^53 do not wrap.
fn reduced_diffs(ints: &[i64], order: usize) -> (Vec<i64>, u64, Vec<u64>) {
    let order = order.min(ints.len());
    let mut d = ints.to_vec();
    for o in 1..=order {
        for i in (o..d.len()).rev() {
            d[i] = d[i].wrapping_sub(d[i - 1]);
        }
    }
    let mut g = 0;
    for &x in &d[order..] {
        // Most series have no common factor: stop at the first proof of it.
        if g == 1 {
            break;
        }
        g = gcd(g, x.unsigned_abs());
    }
    let g = g.max(1);
    let column = if g == 1 {
        d[order..].iter().map(|&x| zigzag(x)).collect()
    } else {
        d[order..].iter().map(|&x| zigzag(x / g as i64)).collect()
    };
    d.truncate(order);
    (d, g, column)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Inverse of [`encode_rice_ints`] for exactly `n >= 1` integers.
fn decode_rice_ints(r: &mut ByteReader<'_>, n: usize, out: &mut Vec<i64>) -> Option<()> {
    let order = usize::from(r.u8()?);
    if !(1..=2).contains(&order) || order > n {
        return None;
    }
    let mut firsts = [0i64; 2];
    for f in firsts.iter_mut().take(order) {
        *f = unzigzag(r.varint()?);
    }
    let gcd = r.varint()?;
    if gcd == 0 {
        return None;
    }
    let mut rest = Vec::new();
    get_rice_column(r, n - order, &mut rest)?;
    let gcd = gcd as i64;
    undelta(
        &firsts[..order],
        rest.iter().map(|&d| unzigzag(d).wrapping_mul(gcd)),
        out,
    );
    Some(())
}

/// Appends the integers whose first values are `firsts` (1 or 2 of them, the delta order) and
/// whose `firsts.len()`-th differences are `diffs`. Wrapping: corrupt input must not panic.
fn undelta(firsts: &[i64], diffs: impl ExactSizeIterator<Item = i64>, out: &mut Vec<i64>) {
    out.reserve(firsts.len() + diffs.len());
    let mut prev = firsts[0];
    out.push(prev);
    if let Some(&first_delta) = firsts.get(1) {
        let mut delta = first_delta;
        prev = prev.wrapping_add(delta);
        out.push(prev);
        for dd in diffs {
            delta = delta.wrapping_add(dd);
            prev = prev.wrapping_add(delta);
            out.push(prev);
        }
    } else {
        for d in diffs {
            prev = prev.wrapping_add(d);
            out.push(prev);
        }
    }
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
        assert_eq!(out[0], TAG_DECIMAL_RICE);
        assert_eq!(out[1], 2);
    }

    fn tag_of(values: &[f64]) -> u8 {
        let mut out = Vec::new();
        encode_values(&mut out, values);
        out[0]
    }

    /// Round trips `ints` through the Rice integer encoding alone; its length.
    fn rice_ints_round_trip(ints: &[i64]) -> usize {
        let mut out = Vec::new();
        encode_rice_ints(&mut out, ints);
        let mut r = ByteReader::new(&out);
        let mut back = Vec::new();
        decode_rice_ints(&mut r, ints.len(), &mut back).expect("decodes");
        assert!(r.at_end());
        assert_eq!(back, ints);
        out.len()
    }

    #[test]
    fn rice_ints_edge_cases_round_trip() {
        const EXACT: i64 = 1 << 53;
        rice_ints_round_trip(&[0]);
        rice_ints_round_trip(&[-EXACT]);
        rice_ints_round_trip(&[EXACT, -EXACT]);
        rice_ints_round_trip(&[-EXACT, EXACT, -EXACT, EXACT, 0, EXACT]);
        rice_ints_round_trip(&[7; 500]);
        rice_ints_round_trip(&[0; 3]);
        rice_ints_round_trip(&[1, 2]);
        let even: Vec<i64> = (0..300).map(|i| (i * i % 17) * 2 - 9).collect();
        let len = rice_ints_round_trip(&even);
        let odd: Vec<i64> = even.iter().map(|x| x + (x & 1)).collect();
        assert!(len <= rice_ints_round_trip(&odd));
        for v in [
            &[0.0][..],
            &[-4.5],
            &[1.25, -2.5],
            &[9_007_199_254_740_992.0, -9_007_199_254_740_992.0, 0.0],
            &[3.0; 3600],
            &[0.0; 3600],
        ] {
            round_trip(v);
        }
    }

    #[test]
    fn means_of_five_use_the_gcd() {
        // Means of 5 samples of 2 decimals: all multiples of 0.002 at k = 3.
        let mut x = 0i64;
        let v: Vec<f64> = (0..3600)
            .map(|i| {
                x += (i * 7919 % 23) - 11;
                (x * 2) as f64 / 1000.0
            })
            .collect();
        let len = round_trip(&v);
        assert_eq!(tag_of(&v), TAG_DECIMAL_RICE);
        let mut packed = vec![TAG_DECIMAL, 3];
        let ints: Vec<i64> = (0..3600).map(|i| (v[i] * 1000.0).round() as i64).collect();
        encode_ints(&mut packed, &ints);
        assert!(len + 300 < packed.len(), "{len} vs {}", packed.len());
    }

    #[test]
    fn the_smaller_decimal_encoding_is_picked() {
        // Runs of equal values cost 1 bit per Rice block, 7 per packed one.
        assert_eq!(tag_of(&[42.0; 3600]), TAG_DECIMAL_RICE);
        // The GCD varint makes a single value one byte longer.
        assert_eq!(tag_of(&[1.5]), TAG_DECIMAL);
    }

    #[test]
    fn means_of_decimals_use_the_near_decimal_encoding() {
        let mut x = 0i64;
        let samples: Vec<f64> = (0..3000)
            .map(|i| {
                x += (i * 7919 % 201) - 100;
                x as f64 / 100.0
            })
            .collect();
        let means: Vec<f64> = samples
            .chunks(5)
            .map(|c| c.iter().sum::<f64>() / 5.0)
            .collect();
        assert!(
            as_decimal(&means).is_none(),
            "float rounding makes them inexact"
        );
        assert_eq!(tag_of(&means), TAG_NEAR_DECIMAL);
        let len = round_trip(&means);
        assert!(len < means.len() * 3, "{len}");
        // Each its own decimal, −0 (far from +0 in bits), extremes: still exact round trips.
        for v in [
            &[0.1 + 0.2][..],
            &[0.1 + 0.2, -0.0, 0.3],
            &[(0.1 + 0.2) * 1e15, -9_007_199_254_740_991.0],
            &[1e-300, 0.1 + 0.2],
        ] {
            round_trip(v);
        }
    }

    #[test]
    fn corrupt_rice_ints_are_refused() {
        let mut out = Vec::new();
        encode_rice_ints(&mut out, &[5, 8, 13, 21, 34]);
        for cut in 0..out.len() {
            let r = &mut ByteReader::new(&out[..cut]);
            assert_eq!(decode_rice_ints(r, 5, &mut Vec::new()), None, "{cut}");
        }
        // Order 3, order above n, and a zero GCD.
        for bad in [[3u8, 0, 1, 0], [2, 0, 0, 1], [1, 0, 0, 0]] {
            let n = if bad[0] == 2 { 1 } else { 2 };
            assert_eq!(
                decode_rice_ints(&mut ByteReader::new(&bad), n, &mut Vec::new()),
                None
            );
        }
    }
}

/// Paired timings of the two decimal encodings on full splits (`--release --ignored`).
#[cfg(test)]
mod timing {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use super::*;

    /// Best of many runs of `f`, interleaved with `g`'s.
    fn best_of(mut f: impl FnMut(), mut g: impl FnMut()) -> (Duration, Duration) {
        let (mut a, mut b) = (Duration::MAX, Duration::MAX);
        for _ in 0..2000 {
            let t = Instant::now();
            f();
            a = a.min(t.elapsed());
            let t = Instant::now();
            g();
            b = b.min(t.elapsed());
        }
        (a, b)
    }

    #[test]
    #[ignore = "a timing, not a check"]
    fn decimal_tags_timing() {
        let mut seed = 7u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut x = 10_000i64;
        let walk: Vec<i64> = (0..3600)
            .map(|_| {
                x += (rand() % 201) as i64 - 100;
                x
            })
            .collect();
        let counter: Vec<i64> = (0..3600)
            .scan(100, |c, _| {
                *c += 1 + (rand() % 5) as i64;
                Some(*c)
            })
            .collect();
        for (name, ints) in [
            ("walk-2dec", walk),
            ("counter", counter),
            ("constant", vec![42; 3600]),
        ] {
            let values: Vec<f64> = ints.iter().map(|&m| m as f64 / 100.0).collect();
            let mut packed = vec![TAG_DECIMAL, 2];
            encode_ints(&mut packed, &ints);
            let mut rice = vec![TAG_DECIMAL_RICE, 2];
            encode_rice_ints(&mut rice, &ints);
            let decode = |bytes: &[u8]| {
                let mut out = Vec::new();
                decode_values(&mut ByteReader::new(black_box(bytes)), 3600, &mut out);
                black_box(out);
            };
            let (d1, d2) = best_of(|| decode(&packed), || decode(&rice));
            let (e1, e2) = best_of(
                || {
                    let mut out = Vec::new();
                    encode_ints(&mut out, black_box(&ints));
                    black_box(out);
                },
                || {
                    let mut out = Vec::new();
                    encode_rice_ints(&mut out, black_box(&ints));
                    black_box(out);
                },
            );
            let (e3, _) = best_of(|| drop(black_box(as_decimal(black_box(&values)))), || ());
            println!(
                "{name}: {} -> {} bytes; decode {d1:?} -> {d2:?}; encode: as_decimal {e3:?}, tag 1 {e1:?}, tag 2 {e2:?}",
                packed.len(),
                rice.len()
            );
        }
    }
}
