//! The operations tree of `/v1/aggregates` (engine.md §6.3), as parsed or as built by the legacy
//! `/v1/aggregation` routes (§6.7).

use std::fmt;
use std::str::FromStr;

use gnocchi_core::AggregationMethod;

use super::Period;

/// A `(metric <ref> <agg>)` reference as written: a metric id (metric-id mode) or a metric name
/// or shell glob (resource mode), with the aggregation text (not yet checked: an unknown method
/// is a 404 "Metrics with unknown aggregation" at planning, not a parse error).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// The metric id, name or glob.
    pub metric: String,
    /// The aggregation method name, e.g. `mean`, `rate:max`, `95pct`.
    pub aggregation: String,
}

impl Reference {
    /// A reference from its two parts.
    pub fn new(metric: impl Into<String>, aggregation: impl Into<String>) -> Self {
        Self {
            metric: metric.into(),
            aggregation: aggregation.into(),
        }
    }
}

/// The row/window functions of `aggregate` and `rolling` (engine.md §6.4.4): they ignore NaN
/// cells, and `std`/`var` are population formulas (ddof 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceBase {
    /// Σ / count of the non-NaN cells.
    Mean,
    /// Median of the non-NaN cells.
    Median,
    /// Population standard deviation.
    Std,
    /// Smallest non-NaN cell.
    Min,
    /// Largest non-NaN cell.
    Max,
    /// Σ of the non-NaN cells (0.0 when none).
    Sum,
    /// Population variance.
    Var,
    /// Number of non-NaN cells.
    Count,
}

/// An `AGGM` of the grammar: a [`ReduceBase`], optionally `rate:` (differences of consecutive
/// results, dropping the first timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReduceMethod {
    /// The row function.
    pub base: ReduceBase,
    /// `rate:` prefix.
    pub rate: bool,
}

impl ReduceMethod {
    /// The carbonara method of the same name, for `resample` (none for `var`).
    pub fn to_aggregation_method(self) -> Option<AggregationMethod> {
        use gnocchi_core::BaseMethod as B;
        let base = match self.base {
            ReduceBase::Mean => B::Mean,
            ReduceBase::Median => B::Median,
            ReduceBase::Std => B::Std,
            ReduceBase::Min => B::Min,
            ReduceBase::Max => B::Max,
            ReduceBase::Sum => B::Sum,
            ReduceBase::Count => B::Count,
            ReduceBase::Var => return None,
        };
        Some(AggregationMethod {
            base,
            rate: self.rate,
        })
    }
}

impl FromStr for ReduceMethod {
    type Err = ();

    /// One of the 16 names `mean median std min max sum var count`, each optionally `rate:`.
    fn from_str(s: &str) -> Result<Self, ()> {
        let (rate, name) = match s.strip_prefix("rate:") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let base = match name {
            "mean" => ReduceBase::Mean,
            "median" => ReduceBase::Median,
            "std" => ReduceBase::Std,
            "min" => ReduceBase::Min,
            "max" => ReduceBase::Max,
            "sum" => ReduceBase::Sum,
            "var" => ReduceBase::Var,
            "count" => ReduceBase::Count,
            _ => return Err(()),
        };
        Ok(Self { base, rate })
    }
}

impl fmt::Display for ReduceMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rate {
            f.write_str("rate:")?;
        }
        f.write_str(match self.base {
            ReduceBase::Mean => "mean",
            ReduceBase::Median => "median",
            ReduceBase::Std => "std",
            ReduceBase::Min => "min",
            ReduceBase::Max => "max",
            ReduceBase::Sum => "sum",
            ReduceBase::Var => "var",
            ReduceBase::Count => "count",
        })
    }
}

/// Element-wise functions of one operand (engine.md §6.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `abs`, `absolute`.
    Abs,
    /// `neg`, `negative`.
    Neg,
    /// `cos` (radians).
    Cos,
    /// `sin` (radians).
    Sin,
    /// `tan` (radians).
    Tan,
    /// `floor`.
    Floor,
    /// `ceil`.
    Ceil,
    /// `rateofchange`: `row_i − row_{i−1}`, first timestamp dropped.
    RateOfChange,
    /// `rateofchangesec`: the same divided by the seconds between the rows; first row NaN.
    RateOfChangeSec,
}

impl UnaryOp {
    /// The operator named `name`, with its aliases.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "abs" | "absolute" => UnaryOp::Abs,
            "neg" | "negative" => UnaryOp::Neg,
            "cos" => UnaryOp::Cos,
            "sin" => UnaryOp::Sin,
            "tan" => UnaryOp::Tan,
            "floor" => UnaryOp::Floor,
            "ceil" => UnaryOp::Ceil,
            "rateofchange" => UnaryOp::RateOfChange,
            "rateofchangesec" => UnaryOp::RateOfChangeSec,
            _ => return None,
        })
    }

    /// Whether the operator works point by point (and so also on a number).
    pub(crate) fn is_elementwise(self) -> bool {
        !matches!(self, UnaryOp::RateOfChange | UnaryOp::RateOfChangeSec)
    }
}

/// Element-wise functions of two operands, numpy semantics (engine.md §6.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `=`, `==`, `eq` → 1.0 / 0.0.
    Eq,
    /// `!=`, `≠`, `ne` (NaN involved → 1.0).
    Ne,
    /// `<`, `lt`.
    Lt,
    /// `>`, `gt`.
    Gt,
    /// `<=`, `≤`, `le`.
    Le,
    /// `>=`, `≥`, `ge`.
    Ge,
    /// `%`, `mod`: floor modulo, sign of the divisor.
    Mod,
    /// `+`, `add`.
    Add,
    /// `-`, `sub`.
    Sub,
    /// `*`, `×`, `mul`.
    Mul,
    /// `/`, `÷`, `div` (IEEE).
    Div,
    /// `**`, `^`, `pow`.
    Pow,
    /// `clip_min`: lower clamp (NaN propagates).
    ClipMin,
    /// `clip_max`: upper clamp (NaN propagates).
    ClipMax,
    /// `max`: element-wise maximum ignoring NaN.
    Max,
}

impl BinaryOp {
    /// The operator named `name`, with its aliases.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "=" | "==" | "eq" => BinaryOp::Eq,
            "!=" | "≠" | "ne" => BinaryOp::Ne,
            "<" | "lt" => BinaryOp::Lt,
            ">" | "gt" => BinaryOp::Gt,
            "<=" | "≤" | "le" => BinaryOp::Le,
            ">=" | "≥" | "ge" => BinaryOp::Ge,
            "%" | "mod" => BinaryOp::Mod,
            "+" | "add" => BinaryOp::Add,
            "-" | "sub" => BinaryOp::Sub,
            "*" | "×" | "mul" => BinaryOp::Mul,
            "/" | "÷" | "div" => BinaryOp::Div,
            "**" | "^" | "pow" => BinaryOp::Pow,
            "clip_min" => BinaryOp::ClipMin,
            "clip_max" => BinaryOp::ClipMax,
            "max" => BinaryOp::Max,
            _ => return None,
        })
    }
}

/// One node of the operations tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// `(metric <ref> <agg>)` or `(metric (<ref> <agg>) ...)`: the columns of these references.
    Metric(Vec<Reference>),
    /// `(aggregate AGGM node)`: one value per row; the result is "aggregated".
    Aggregate {
        /// The row function.
        method: ReduceMethod,
        /// The operand.
        operand: Box<Operation>,
    },
    /// `(resample <method> <period> node)`: per-column re-bucketing with the carbonara method.
    /// The parser only builds fixed periods and the methods of `AGGM` but `var`; the legacy
    /// routes may build calendar periods and any method.
    Resample {
        /// The per-bucket method.
        method: AggregationMethod,
        /// The new period.
        period: Period,
        /// The operand.
        operand: Box<Operation>,
    },
    /// `(rolling AGGM w node)`: per-column moving window of `w` rows.
    Rolling {
        /// The window function.
        method: ReduceMethod,
        /// The window, ≥ 1 rows.
        window: usize,
        /// The operand.
        operand: Box<Operation>,
    },
    /// `(<unary> node)`.
    Unary {
        /// The function.
        op: UnaryOp,
        /// The operand.
        operand: Box<Operation>,
    },
    /// `(<binary> a b)`.
    Binary {
        /// The function.
        op: BinaryOp,
        /// Left operand.
        left: Box<Operation>,
        /// Right operand.
        right: Box<Operation>,
    },
    /// `(clip x lo)` or `(clip x lo hi)`.
    Clip {
        /// The clamped operand.
        operand: Box<Operation>,
        /// Lower bound.
        min: Box<Operation>,
        /// Upper bound.
        max: Option<Box<Operation>>,
    },
    /// A number operand.
    Number(f64),
}

impl Operation {
    /// The distinct references of the tree in order of first appearance (engine.md §6.4.1):
    /// what the API resolves and fetches.
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        self.walk_references(&mut |r| {
            if !out.contains(r) {
                out.push(r.clone());
            }
        });
        out
    }

    /// Whether the tree contains at least one `metric` node.
    pub fn has_metric(&self) -> bool {
        match self {
            Operation::Metric(_) => true,
            Operation::Number(_) => false,
            Operation::Aggregate { operand, .. }
            | Operation::Resample { operand, .. }
            | Operation::Rolling { operand, .. }
            | Operation::Unary { operand, .. } => operand.has_metric(),
            Operation::Binary { left, right, .. } => left.has_metric() || right.has_metric(),
            Operation::Clip { operand, min, max } => {
                operand.has_metric()
                    || min.has_metric()
                    || max.as_ref().is_some_and(|m| m.has_metric())
            }
        }
    }

    fn walk_references(&self, f: &mut dyn FnMut(&Reference)) {
        match self {
            Operation::Metric(refs) => refs.iter().for_each(&mut *f),
            Operation::Number(_) => {}
            Operation::Aggregate { operand, .. }
            | Operation::Resample { operand, .. }
            | Operation::Rolling { operand, .. }
            | Operation::Unary { operand, .. } => operand.walk_references(f),
            Operation::Binary { left, right, .. } => {
                left.walk_references(f);
                right.walk_references(f);
            }
            Operation::Clip { operand, min, max } => {
                operand.walk_references(f);
                min.walk_references(f);
                if let Some(m) = max {
                    m.walk_references(f);
                }
            }
        }
    }

    /// The tree of the legacy cross-metric aggregation (engine.md §6.7):
    /// `(aggregate R (metric (id1 A) (id2 A) ...))`, or with a resample period
    /// `(aggregate R (resample A <period> (metric ...)))`.
    pub fn legacy_cross_metric(
        metric_ids: &[String],
        aggregation: AggregationMethod,
        reaggregation: ReduceMethod,
        resample: Option<Period>,
    ) -> Operation {
        let agg = aggregation.to_string();
        let metric = Operation::Metric(
            metric_ids
                .iter()
                .map(|id| Reference::new(id.clone(), agg.clone()))
                .collect(),
        );
        let operand = match resample {
            Some(period) => Operation::Resample {
                method: aggregation,
                period,
                operand: Box::new(metric),
            },
            None => metric,
        };
        Operation::Aggregate {
            method: reaggregation,
            operand: Box::new(operand),
        }
    }
}
