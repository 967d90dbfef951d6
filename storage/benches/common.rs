//! Generated data shared by the benches: random walk, counter, constant (deterministic).

#![allow(dead_code)]

pub const S: i64 = 1_000_000_000;
/// 2014-01-01T00:00:00Z.
pub const DAY: i64 = 1_388_534_400 * S;

/// xorshift64*, so runs are reproducible without a rand dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` values of the named shape.
pub fn values(shape: &str, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut x = 100.0f64;
    (0..n)
        .map(|_| match shape {
            "constant" => 42.0,
            "counter" => {
                x += (1 + rng.next_u64() % 5) as f64;
                x
            }
            "walk-2dec" => {
                x += rng.uniform() * 2.0 - 1.0;
                (x * 100.0).round() / 100.0
            }
            _ => {
                x += rng.uniform() * 2.0 - 1.0;
                x
            }
        })
        .collect()
}

pub const SHAPES: [&str; 4] = ["walk-full", "walk-2dec", "counter", "constant"];
