//! Numeric kernels of the operations (engine.md §6.4.4): NaN-ignoring row and window functions,
//! numpy's pairwise summation, and the element-wise functions with numpy semantics.

use super::operation::{BinaryOp, ReduceBase, UnaryOp};
use crate::engine::cmp_nan_last;

/// How a reduction sums: `aggregate` rows sum left to right; `rolling` windows (contiguous
/// 1-D reductions) use numpy's pairwise summation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Summation {
    Sequential,
    Pairwise,
}

/// numpy's pairwise sum of a contiguous slice (engine.md §6.4.4, bit-exact).
pub(crate) fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |acc, &x| acc + x)
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

fn sum(values: &[f64], summation: Summation) -> f64 {
    match summation {
        Summation::Sequential => values.iter().fold(0.0, |acc, &x| acc + x),
        Summation::Pairwise => pairwise_sum(values),
    }
}

/// Applies a NaN-ignoring row function to `cells` (numpy's `nan*` functions): NaN cells count as
/// absent; sums see them as 0.0 in place, as numpy replaces them before summing.
/// `scratch` is reused between calls.
pub(crate) fn reduce(
    base: ReduceBase,
    cells: &[f64],
    summation: Summation,
    scratch: &mut Vec<f64>,
) -> f64 {
    let k = cells.iter().filter(|v| !v.is_nan()).count();
    match base {
        ReduceBase::Count => k as f64,
        ReduceBase::Sum => {
            zeroed(cells, scratch);
            sum(scratch, summation)
        }
        ReduceBase::Mean => {
            zeroed(cells, scratch);
            sum(scratch, summation) / k as f64
        }
        ReduceBase::Var | ReduceBase::Std => {
            if k == 0 {
                return f64::NAN;
            }
            zeroed(cells, scratch);
            let m = sum(scratch, summation) / k as f64;
            scratch.clear();
            scratch.extend(
                cells
                    .iter()
                    .map(|&v| if v.is_nan() { 0.0 } else { (v - m) * (v - m) }),
            );
            let var = sum(scratch, summation) / k as f64;
            if base == ReduceBase::Std {
                var.sqrt()
            } else {
                var
            }
        }
        ReduceBase::Min => cells
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m }),
        ReduceBase::Max => cells
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m }),
        ReduceBase::Median => {
            scratch.clear();
            scratch.extend(cells.iter().copied().filter(|v| !v.is_nan()));
            if scratch.is_empty() {
                return f64::NAN;
            }
            scratch.sort_unstable_by(|a, b| cmp_nan_last(*a, *b));
            let n = scratch.len();
            if n % 2 == 1 {
                scratch[n / 2]
            } else {
                (scratch[n / 2 - 1] + scratch[n / 2]) / 2.0
            }
        }
    }
}

fn zeroed(cells: &[f64], scratch: &mut Vec<f64>) {
    scratch.clear();
    scratch.extend(cells.iter().map(|&v| if v.is_nan() { 0.0 } else { v }));
}

/// numpy's `remainder` (floor modulo, sign of the divisor; `x % 0` is NaN).
pub(crate) fn floor_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if b == 0.0 {
        return m;
    }
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0f64.copysign(b)
    }
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// numpy `maximum`/`minimum`: NaN propagates.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// One element of a binary operator.
pub(crate) fn binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        // IEEE comparisons: anything with NaN is false, except `!=`.
        BinaryOp::Eq => bool_value(a == b),
        BinaryOp::Ne => bool_value(a != b),
        BinaryOp::Lt => bool_value(a < b),
        BinaryOp::Gt => bool_value(a > b),
        BinaryOp::Le => bool_value(a <= b),
        BinaryOp::Ge => bool_value(a >= b),
        BinaryOp::Mod => floor_mod(a, b),
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::ClipMin => nan_max(a, b),
        BinaryOp::ClipMax => nan_min(a, b),
        // numpy `fmax`: NaN only if both are NaN (f64::max ignores a NaN operand).
        BinaryOp::Max => a.max(b),
    }
}

/// numpy `clip(x, lo, hi)` = `minimum(maximum(x, lo), hi)`.
pub(crate) fn clip(x: f64, lo: f64, hi: Option<f64>) -> f64 {
    let r = nan_max(x, lo);
    match hi {
        Some(hi) => nan_min(r, hi),
        None => r,
    }
}

/// One element of an element-wise unary operator (`None` for the row-wise ones).
pub(crate) fn unary(op: UnaryOp, x: f64) -> f64 {
    match op {
        UnaryOp::Abs => x.abs(),
        UnaryOp::Neg => -x,
        UnaryOp::Cos => x.cos(),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Tan => x.tan(),
        UnaryOp::Floor => x.floor(),
        UnaryOp::Ceil => x.ceil(),
        // Row-wise operators never reach here (eval handles them on whole columns).
        UnaryOp::RateOfChange | UnaryOp::RateOfChangeSec => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_matches_numpy_blocks() {
        let v: Vec<f64> = (0..300).map(|i| 0.1 * f64::from(i) + 1e-3).collect();
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 128, 129, 300] {
            let a = &v[..n];
            // Reference written from the spec's description.
            let expect = if n < 8 {
                a.iter().fold(0.0, |s, x| s + x)
            } else {
                fn rec(a: &[f64]) -> f64 {
                    let n = a.len();
                    if n < 8 {
                        return a.iter().fold(0.0, |s, x| s + x);
                    }
                    if n <= 128 {
                        let m = n - n % 8;
                        let r: Vec<f64> = (0..8)
                            .map(|j| {
                                let mut s = a[j];
                                let mut i = j + 8;
                                while i < m {
                                    s += a[i];
                                    i += 8;
                                }
                                s
                            })
                            .collect();
                        let mut res =
                            ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
                        for x in &a[m..] {
                            res += x;
                        }
                        return res;
                    }
                    let mut h = n / 2;
                    h -= h % 8;
                    rec(&a[..h]) + rec(&a[h..])
                }
                rec(a)
            };
            assert_eq!(pairwise_sum(a).to_bits(), expect.to_bits(), "n = {n}");
        }
    }

    #[test]
    fn numpy_remainder() {
        assert_eq!(floor_mod(5.0, 3.0), 2.0);
        assert_eq!(floor_mod(-5.0, 3.0), 1.0);
        assert_eq!(floor_mod(5.0, -3.0), -1.0);
        assert!(floor_mod(5.0, 0.0).is_nan());
        assert_eq!(floor_mod(-1.0, f64::INFINITY), f64::INFINITY);
        assert_eq!(floor_mod(6.0, -3.0).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn nan_comparisons() {
        assert_eq!(binary(BinaryOp::Gt, f64::NAN, 1.0), 0.0);
        assert_eq!(binary(BinaryOp::Eq, f64::NAN, f64::NAN), 0.0);
        assert_eq!(binary(BinaryOp::Ne, f64::NAN, 1.0), 1.0);
        assert_eq!(binary(BinaryOp::Max, f64::NAN, 1.0), 1.0);
        assert!(binary(BinaryOp::ClipMin, f64::NAN, 1.0).is_nan());
        assert!(binary(BinaryOp::Pow, -8.0, 1.0 / 3.0).is_nan());
        assert_eq!(binary(BinaryOp::Div, 1.0, 0.0), f64::INFINITY);
        assert!(binary(BinaryOp::Div, 0.0, 0.0).is_nan());
        assert_eq!(clip(5.0, 1.0, Some(3.0)), 3.0);
        assert_eq!(clip(5.0, 4.0, Some(3.0)), 3.0);
    }

    #[test]
    fn row_functions_ignore_nan() {
        let mut s = Vec::new();
        let cells = [1.0, f64::NAN, 3.0];
        let r = |b| reduce(b, &cells, Summation::Sequential, &mut Vec::new());
        assert_eq!(r(ReduceBase::Mean), 2.0);
        assert_eq!(r(ReduceBase::Sum), 4.0);
        assert_eq!(r(ReduceBase::Count), 2.0);
        assert_eq!(r(ReduceBase::Min), 1.0);
        assert_eq!(r(ReduceBase::Max), 3.0);
        assert_eq!(r(ReduceBase::Median), 2.0);
        assert_eq!(r(ReduceBase::Var), 1.0);
        assert_eq!(r(ReduceBase::Std), 1.0);
        let none = [f64::NAN, f64::NAN];
        assert_eq!(
            reduce(ReduceBase::Sum, &none, Summation::Sequential, &mut s),
            0.0
        );
        assert_eq!(
            reduce(ReduceBase::Count, &none, Summation::Sequential, &mut s),
            0.0
        );
        for b in [
            ReduceBase::Mean,
            ReduceBase::Min,
            ReduceBase::Max,
            ReduceBase::Median,
            ReduceBase::Std,
            ReduceBase::Var,
        ] {
            assert!(
                reduce(b, &none, Summation::Sequential, &mut s).is_nan(),
                "{b:?}"
            );
        }
    }
}
