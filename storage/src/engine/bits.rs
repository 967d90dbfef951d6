//! Bit-level building blocks of the codecs: LSB-first bit streams, LEB128 varints, zigzag, the
//! bit-packed integer column and the Rice-coded one. Readers never panic: running out of input
//! is `None`.

/// Integers per bit-packing block of an integer column.
const BLOCK: usize = 128;
/// Integers per block of a Rice column: small enough to follow a drifting scale, large enough
/// that the 6-bit parameter header stays cheap.
const RICE_BLOCK: usize = 32;
/// The block parameter that marks a block of zeros (no value bits follow).
const RICE_ZEROS: u32 = 63;
/// Quotients from this one on are escaped to a width and the plain bits: a long unary run is
/// never written, and a decoder finds every code word within one 64-bit load.
const RICE_ESCAPE: u32 = 24;
/// Bits a [`BitReader::peek`] always holds (64 minus at most 7 bits of byte offset).
const PEEK_BITS: u32 = 57;

/// Appends bits LSB-first to a byte vector, a 64-bit word at a time.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    /// A writer with room for `bytes` bytes of output.
    fn with_capacity(bytes: usize) -> Self {
        Self {
            out: Vec::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// Writes the low `n` bits of `v` (`n <= 64`).
    #[inline]
    pub(crate) fn write(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        // Invariant: nbits < 64.
        self.acc |= v << self.nbits;
        if self.nbits + n < 64 {
            self.nbits += n;
        } else {
            self.out.extend_from_slice(&self.acc.to_le_bytes());
            let fit = 64 - self.nbits;
            self.acc = if fit == 64 { 0 } else { v >> fit };
            self.nbits = n - fit;
        }
    }

    /// Writes one bit.
    #[inline]
    pub(crate) fn bit(&mut self, b: bool) {
        self.write(u64::from(b), 1);
    }

    /// Pads to a byte boundary and returns the bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let tail = self.nbits.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..tail]);
        self.out
    }
}

/// Reads bits LSB-first from a byte slice by unaligned 64-bit loads.
#[derive(Debug)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    total: usize,
}

impl<'a> BitReader<'a> {
    /// A reader over `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            total: data.len().saturating_mul(8),
        }
    }

    /// Reads `n <= 64` bits; `None` past the end of the input.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        if self.pos + n as usize > self.total {
            return None;
        }
        let byte = self.pos / 8;
        let shift = (self.pos % 8) as u32;
        let mut word = [0u8; 8];
        let avail = (self.data.len() - byte).min(8);
        word[..avail].copy_from_slice(&self.data[byte..byte + avail]);
        let mut v = u64::from_le_bytes(word) >> shift;
        if shift + n > 64 {
            let extra = self.data.get(byte + 8).copied().unwrap_or(0);
            v |= u64::from(extra) << (64 - shift);
        }
        self.pos += n as usize;
        Some(if n == 64 { v } else { v & ((1u64 << n) - 1) })
    }

    /// Reads one bit.
    #[inline]
    pub(crate) fn bit(&mut self) -> Option<bool> {
        self.read(1).map(|b| b == 1)
    }

    /// The next [`PEEK_BITS`] bits or more without consuming them, zeros past the end.
    #[inline]
    fn peek(&self) -> u64 {
        let byte = self.pos / 8;
        let word = match self.data.get(byte..byte + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().expect("8 bytes")),
            None => {
                let mut w = [0u8; 8];
                let tail = self.data.get(byte..).unwrap_or_default();
                w[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(w)
            }
        };
        word >> (self.pos % 8)
    }

    /// Consumes `n` bits; `None` past the end of the input.
    #[inline]
    fn skip(&mut self, n: u32) -> Option<()> {
        let end = self.pos + n as usize;
        (end <= self.total).then(|| self.pos = end)
    }

    /// Reads one Rice code word of parameter `p <= 62` (see [`put_rice`]).
    #[inline]
    fn rice(&mut self, p: u32) -> Option<u64> {
        let w = self.peek();
        let q = w.trailing_zeros();
        if q >= RICE_ESCAPE {
            self.skip(RICE_ESCAPE)?;
            let len = self.read(6)? as u32 + 1;
            return self.read(len);
        }
        if q + 1 + p <= PEEK_BITS {
            // The common case: quotient and remainder from the one load.
            self.skip(q + 1 + p)?;
            return Some((u64::from(q) << p) | ((w >> (q + 1)) & ((1u64 << p) - 1)));
        }
        self.skip(q + 1)?;
        Some((u64::from(q) << p) | self.read(p)?)
    }
}

/// Maps signed to unsigned so that small magnitudes stay small.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `v` as a LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `bytes` after their length as a varint (read back by [`ByteReader::prefixed`]).
pub(crate) fn put_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A cursor over bytes for the byte-aligned parts of the formats.
#[derive(Debug)]
pub(crate) struct ByteReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// A cursor at the start of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// A LEB128 varint of at most 10 bytes.
    pub(crate) fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// The next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Bytes written by [`put_prefixed`]: a varint length, then that many bytes.
    pub(crate) fn prefixed(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        self.bytes(len)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.data[self.pos.min(self.data.len())..];
        self.pos = self.data.len();
        s
    }

    /// Whether everything was read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// Bit-packs unsigned integers in blocks of 128, each block prefixed by its bit width (7 bits):
/// a block of zeros costs 7 bits. The column is byte-aligned and length-prefixed (varint).
pub(crate) fn put_int_column(out: &mut Vec<u8>, ints: &[u64]) {
    let mut w = BitWriter::default();
    for block in ints.chunks(BLOCK) {
        let width = block
            .iter()
            .fold(0u64, |acc, &x| acc | x)
            .checked_ilog2()
            .map_or(0, |l| l + 1);
        w.write(u64::from(width), 7);
        for &x in block {
            w.write(x, width);
        }
    }
    put_prefixed(out, &w.finish());
}

/// Reads a column of exactly `n` integers written by [`put_int_column`].
pub(crate) fn get_int_column(r: &mut ByteReader<'_>, n: usize, out: &mut Vec<u64>) -> Option<()> {
    let bytes = r.prefixed()?;
    // Each value takes at least 7/128 bits: a length claim beyond that is corrupt, and this
    // bounds the allocation below by the input size.
    if n > bytes.len().saturating_mul(8 * BLOCK / 7 + 1) + BLOCK {
        return None;
    }
    let mut br = BitReader::new(bytes);
    out.reserve(n);
    let mut left = n;
    while left > 0 {
        let width = br.read(7)? as u32;
        if width > 64 {
            return None;
        }
        let take = left.min(BLOCK);
        for _ in 0..take {
            out.push(br.read(width)?);
        }
        left -= take;
    }
    Some(())
}

/// The parameters of the blocks of a Rice column and its size: computed once to compare
/// encodings, then to write the chosen one.
#[derive(Debug)]
pub(crate) struct RicePlan {
    params: Vec<u32>,
    /// Bits of the column, without its length prefix and padding.
    pub(crate) bits: u64,
}

/// Picks the parameter of each block of `ints` for [`put_rice_column`].
pub(crate) fn rice_plan(ints: &[u64]) -> RicePlan {
    let mut prev = RICE_ZEROS;
    let mut bits = 0;
    let params = ints
        .chunks(RICE_BLOCK)
        .map(|b| {
            let (p, body) = rice_param(b);
            bits += if p == prev { 1 } else { 7 } + body;
            prev = p;
            p
        })
        .collect();
    RicePlan { params, bits }
}

/// Rice-codes unsigned integers in blocks of [`RICE_BLOCK`], each block prefixed by its
/// parameter `p` from `plan` ([`RICE_ZEROS`] for a block of zeros). Near the entropy of
/// geometric-like values, where [`put_int_column`] pays for the block's largest one. The
/// column is byte-aligned and length-prefixed (varint).
pub(crate) fn put_rice_column(out: &mut Vec<u8>, ints: &[u64], plan: &RicePlan) {
    // Whole words are flushed: room for one more avoids a reallocation at the end.
    let mut w = BitWriter::with_capacity(plan.bits.div_ceil(8) as usize + 8);
    let mut prev = RICE_ZEROS;
    for (block, &p) in ints.chunks(RICE_BLOCK).zip(&plan.params) {
        put_param(&mut w, p, prev);
        prev = p;
        if p != RICE_ZEROS {
            for &x in block {
                put_rice(&mut w, x, p);
            }
        }
    }
    put_prefixed(out, &w.finish());
}

/// Reads a column of exactly `n` integers written by [`put_rice_column`].
pub(crate) fn get_rice_column(r: &mut ByteReader<'_>, n: usize, out: &mut Vec<u64>) -> Option<()> {
    let bytes = r.prefixed()?;
    // A block takes at least 1 bit (zeros like the previous block): bounds the allocation.
    if n > bytes.len().saturating_mul(8 * RICE_BLOCK) + RICE_BLOCK {
        return None;
    }
    let mut br = BitReader::new(bytes);
    out.reserve(n);
    let mut left = n;
    let mut p = RICE_ZEROS;
    while left > 0 {
        if br.bit()? {
            p = br.read(6)? as u32;
        }
        let take = left.min(RICE_BLOCK);
        if p == RICE_ZEROS {
            out.resize(out.len() + take, 0);
        } else {
            for _ in 0..take {
                out.push(br.rice(p)?);
            }
        }
        left -= take;
    }
    Some(())
}

/// Writes a block parameter: `0` when it is the previous block's (as is typical), else `1`
/// and its 6 bits.
fn put_param(w: &mut BitWriter, p: u32, prev: u32) {
    if p == prev {
        w.bit(false);
    } else {
        w.bit(true);
        w.write(u64::from(p), 6);
    }
}

/// Writes `x` as the quotient `x >> p` in unary (zeros closed by a one) and `p` low bits, or
/// as [`RICE_ESCAPE`] zeros, 6 bits of (bit length − 1) and the bits when the quotient is large.
#[inline]
fn put_rice(w: &mut BitWriter, x: u64, p: u32) {
    let q = x >> p;
    if q < u64::from(RICE_ESCAPE) {
        let q = q as u32;
        // One write: the closing one, then the low bits (p <= 62 and q < 24 may exceed 64).
        if q + 1 + p <= 64 {
            let low = x & ((1u64 << p) - 1);
            w.write((low << (q + 1)) | (1 << q), q + 1 + p);
        } else {
            w.write(1 << q, q + 1);
            w.write(x, p);
        }
    } else {
        let len = 64 - x.leading_zeros();
        w.write(0, RICE_ESCAPE);
        w.write(u64::from(len - 1), 6);
        w.write(x, len);
    }
}

/// The cheapest parameter of a block, among three below the bit length of its mean (where
/// the optimum of geometric-like values lies), and the bits of its code words.
fn rice_param(block: &[u64]) -> (u32, u64) {
    let (sum, max) = block
        .iter()
        .fold((0u128, 0u64), |(s, m), &x| (s + u128::from(x), m.max(x)));
    if sum == 0 {
        return (RICE_ZEROS, 0);
    }
    let mean = (sum / block.len() as u128) as u64;
    let lo = (64 - mean.leading_zeros())
        .saturating_sub(2)
        .min(RICE_ZEROS - 3);
    (lo..lo + 3)
        .map(|p| (p, rice_block_bits(block, p, max)))
        .min_by_key(|&(_, b)| b)
        .expect("three candidates")
}

/// The bits of a block's code words at parameter `p`; `max` is the block's largest value.
fn rice_block_bits(block: &[u64], p: u32, max: u64) -> u64 {
    let n = block.len() as u64;
    if max >> p < u64::from(RICE_ESCAPE) {
        // No escape: a branch-free sum of the quotients.
        return block.iter().map(|&x| x >> p).sum::<u64>() + n * (u64::from(p) + 1);
    }
    block
        .iter()
        .map(|&x| {
            let q = x >> p;
            if q < u64::from(RICE_ESCAPE) {
                q + 1 + u64::from(p)
            } else {
                u64::from(RICE_ESCAPE + 6 + 64 - x.leading_zeros())
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let mut w = BitWriter::default();
        w.write(0b101, 3);
        w.write(u64::MAX, 64);
        w.bit(true);
        w.write(12345, 20);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read(3), Some(0b101));
        assert_eq!(r.read(64), Some(u64::MAX));
        assert_eq!(r.bit(), Some(true));
        assert_eq!(r.read(20), Some(12345));
        assert_eq!(r.read(64), None);
    }

    #[test]
    fn zigzag_and_varint() {
        for v in [0, 1, -1, i64::MAX, i64::MIN, 1234567, -987654321] {
            assert_eq!(unzigzag(zigzag(v)), v);
            let mut out = Vec::new();
            put_varint(&mut out, zigzag(v));
            assert_eq!(ByteReader::new(&out).varint(), Some(zigzag(v)));
        }
        assert_eq!(ByteReader::new(&[0xff; 11]).varint(), None);
    }

    #[test]
    fn int_column_round_trip() {
        let ints: Vec<u64> = (0..1000u64).map(|i| (i * 7919) % 300).collect();
        let mut out = Vec::new();
        put_int_column(&mut out, &ints);
        let mut back = Vec::new();
        get_int_column(&mut ByteReader::new(&out), ints.len(), &mut back).expect("decodes");
        assert_eq!(back, ints);
    }

    fn rice_round_trip(ints: &[u64]) -> usize {
        let mut out = Vec::new();
        let plan = rice_plan(ints);
        put_rice_column(&mut out, ints, &plan);
        let mut r = ByteReader::new(&out);
        let mut back = Vec::new();
        get_rice_column(&mut r, ints.len(), &mut back).expect("decodes");
        assert!(r.at_end());
        assert_eq!(back, ints);
        let len = ByteReader::new(&out).varint();
        assert_eq!(len, Some(plan.bits.div_ceil(8)), "{ints:?}");
        out.len()
    }

    #[test]
    fn rice_column_round_trip() {
        rice_round_trip(&[]);
        rice_round_trip(&[0]);
        rice_round_trip(&[u64::MAX]);
        rice_round_trip(&[0; 100]);
        rice_round_trip(&[u64::MAX, 0, 1, u64::MAX >> 1, 1 << 63, 3]);
        let geometric: Vec<u64> = (0..1000u64)
            .map(|i| (i * 7919) % 97 / ((i % 5) + 1))
            .collect();
        let len = rice_round_trip(&geometric);
        let mut packed = Vec::new();
        put_int_column(&mut packed, &geometric);
        assert!(len < packed.len(), "{len} vs {}", packed.len());
        // Outliers escape instead of writing long unary runs; every parameter is exercised.
        for shift in 0..64 {
            let v: Vec<u64> = (0..70u64).map(|i| ((i % 7) << shift) | (i % 3)).collect();
            rice_round_trip(&v);
            let mut spiky = v.clone();
            spiky[10] = u64::MAX >> (shift / 2);
            rice_round_trip(&spiky);
        }
    }

    #[test]
    fn rice_column_rejects_corrupt_input() {
        // A length claim beyond what the bytes can hold is refused before allocating.
        let mut back = Vec::new();
        let r = &mut ByteReader::new(&[1, 0]);
        assert_eq!(get_rice_column(r, usize::MAX, &mut back), None);
        // Parameter 0, then zeros: escapes that run out of input.
        let r = &mut ByteReader::new(&[8, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(get_rice_column(r, 3, &mut back), None);
        let mut out = Vec::new();
        put_rice_column(&mut out, &[5, 9, 1000, 3], &rice_plan(&[5, 9, 1000, 3]));
        for cut in 0..out.len() {
            let r = &mut ByteReader::new(&out[..cut]);
            assert_eq!(get_rice_column(r, 4, &mut Vec::new()), None);
        }
    }
}
