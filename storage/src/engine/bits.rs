//! Bit-level building blocks of the codecs: LSB-first bit streams, LEB128 varints, zigzag, and
//! the bit-packed integer column. Readers never panic: running out of input is `None`.

/// Integers per bit-packing block of an integer column.
const BLOCK: usize = 128;

/// Appends bits LSB-first to a byte vector, a 64-bit word at a time.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
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
    let bytes = w.finish();
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(&bytes);
}

/// Reads a column of exactly `n` integers written by [`put_int_column`].
pub(crate) fn get_int_column(r: &mut ByteReader<'_>, n: usize, out: &mut Vec<u64>) -> Option<()> {
    let len = usize::try_from(r.varint()?).ok()?;
    let bytes = r.bytes(len)?;
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
}
