//! Parsing the operations language (engine.md §6.3, api.md §11.1): a JSON array tree, or the
//! same tree written as an S-expression string, into an [`Operation`].

use gnocchi_core::time::{parse_python_float, parse_timespan_positive, TimeInput};
use gnocchi_core::ErrorKind;
use serde_json::Value;
use snafu::Snafu;

use super::operation::{BinaryOp, Operation, ReduceMethod, Reference, UnaryOp};
use super::Period;

/// Voluptuous' suffix on every schema error of the `operations` field.
const AT_OPERATIONS: &str = " for dictionary value @ data['operations']";

/// A request's `operations` that cannot be used (api.md §11.1, Appendix A).
///
/// [`OperationError::reason`] is Gnocchi's text; the API's objects are:
/// * [`Empty`](OperationError::Empty), [`NotAList`](OperationError::NotAList),
///   [`MissingArgument`](OperationError::MissingArgument),
///   [`InvalidOperation`](OperationError::InvalidOperation): 400
///   `{"cause": "Invalid input", "reason": <reason>, "detail": ["operations"]}`;
/// * [`StringSyntax`](OperationError::StringSyntax): 400 `{"cause": "Invalid operations",
///   "reason": "Fail to parse the operations string", "detail": <reason>}`;
/// * [`NoMetric`](OperationError::NoMetric): 400 `{"cause": "Operations is invalid", "reason":
///   "At least one 'metric' is required", "detail": <operations>}`.
#[derive(Debug, Clone, PartialEq, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum OperationError {
    /// The top-level list is empty.
    #[snafu(display("operations must not be empty"))]
    Empty,
    /// The top level is neither a list nor a string.
    #[snafu(display("operations must be a list, not {python_type}"))]
    NotAList {
        /// The Python type name Gnocchi shows (`dict`, `int`, `float`, `bool`, `NoneType`).
        python_type: &'static str,
    },
    /// The top-level list has a single element (`["metric"]`).
    #[snafu(display("operation needs at least one argument"))]
    MissingArgument,
    /// The tree is malformed somewhere (unknown operator, bad method, window or period, wrong
    /// arity); Gnocchi names the top-level list's first element.
    #[snafu(display("'{operation}' operation invalid"))]
    InvalidOperation {
        /// The first element of the top-level list, as Python's `str()` prints it.
        operation: String,
    },
    /// The string form is not a balanced parenthesised expression.
    #[snafu(display("fail to parse the operations string: {message}"))]
    StringSyntax {
        /// A pyparsing-like message: `Expected ')', found end of text  (at char 15), (line:1,
        /// col:16)`.
        message: String,
    },
    /// A valid tree without any `metric` node.
    #[snafu(display("at least one 'metric' is required"))]
    NoMetric {
        /// The operations as JSON (string forms as nested lists of strings), for `detail`.
        operations: Value,
    },
}

impl OperationError {
    /// Gnocchi's `reason` text (for [`OperationError::StringSyntax`]: the `detail` text; the
    /// reason there is the fixed `Fail to parse the operations string`).
    pub fn reason(&self) -> String {
        match self {
            OperationError::Empty => format!("Operation must not be empty{AT_OPERATIONS}"),
            OperationError::NotAList { python_type } => {
                format!("Expected a tuple/list, got a <class '{python_type}'>{AT_OPERATIONS}")
            }
            OperationError::MissingArgument => {
                format!("Operation need at least one argument{AT_OPERATIONS}")
            }
            OperationError::InvalidOperation { operation } => {
                format!("'{operation}' operation invalid{AT_OPERATIONS}")
            }
            OperationError::StringSyntax { message } => message.clone(),
            OperationError::NoMetric { .. } => String::from("At least one 'metric' is required"),
        }
    }

    /// Every operations error is a client input error.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }

    /// Retrying the same input never helps.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Parses the `operations` value of a `/v1/aggregates` body: a JSON array tree, or a string in
/// S-expression form (only its first complete top-level list counts; atoms are coerced to
/// numbers where numbers are expected).
pub fn parse_operations(value: &Value) -> Result<Operation, OperationError> {
    let (tree, coerce) = match value {
        Value::String(s) => (parse_sexp(s)?, true),
        other => (other.clone(), false),
    };
    let items = match &tree {
        Value::Array(items) => items,
        other => {
            return Err(OperationError::NotAList {
                python_type: python_type(other),
            })
        }
    };
    match items.len() {
        0 => return Err(OperationError::Empty),
        1 => return Err(OperationError::MissingArgument),
        _ => {}
    }
    let parser = Parser { coerce };
    let op = parser
        .node(&tree)
        .ok_or_else(|| OperationError::InvalidOperation {
            operation: python_str(&items[0]),
        })?;
    if !op.has_metric() {
        return Err(OperationError::NoMetric { operations: tree });
    }
    Ok(op)
}

struct Parser {
    /// String form: atoms are strings and become numbers where a number is expected.
    coerce: bool,
}

impl Parser {
    /// A series node (not a bare number).
    fn node(&self, v: &Value) -> Option<Operation> {
        let items = v.as_array()?;
        let name = items.first()?.as_str()?;
        let args = &items[1..];
        match name {
            "metric" => metric(args),
            "aggregate" => match args {
                [m, x] => Some(Operation::Aggregate {
                    method: reduce_method(m)?,
                    operand: Box::new(self.node(x)?),
                }),
                _ => None,
            },
            "resample" => match args {
                [m, p, x] => {
                    let method = reduce_method(m)?.to_aggregation_method()?;
                    Some(Operation::Resample {
                        method,
                        period: Period::Fixed(timespan(p)?),
                        operand: Box::new(self.node(x)?),
                    })
                }
                _ => None,
            },
            "rolling" => match args {
                [m, w, x] => Some(Operation::Rolling {
                    method: reduce_method(m)?,
                    window: window(w)?,
                    operand: Box::new(self.node(x)?),
                }),
                _ => None,
            },
            "clip" => match args {
                [x, lo] => Some(Operation::Clip {
                    operand: Box::new(self.operand(x)?),
                    min: Box::new(self.operand(lo)?),
                    max: None,
                }),
                [x, lo, hi] => Some(Operation::Clip {
                    operand: Box::new(self.operand(x)?),
                    min: Box::new(self.operand(lo)?),
                    max: Some(Box::new(self.operand(hi)?)),
                }),
                _ => None,
            },
            other => {
                if let Some(op) = UnaryOp::from_name(other) {
                    let [x] = args else { return None };
                    let operand = if op.is_elementwise() {
                        self.operand(x)?
                    } else {
                        self.node(x)?
                    };
                    Some(Operation::Unary {
                        op,
                        operand: Box::new(operand),
                    })
                } else if let Some(op) = BinaryOp::from_name(other) {
                    let [a, b] = args else { return None };
                    Some(Operation::Binary {
                        op,
                        left: Box::new(self.operand(a)?),
                        right: Box::new(self.operand(b)?),
                    })
                } else {
                    None
                }
            }
        }
    }

    /// A node or a number.
    fn operand(&self, v: &Value) -> Option<Operation> {
        match v {
            Value::Array(_) => self.node(v),
            // Python's numbers.Real includes bool.
            Value::Bool(b) => Some(Operation::Number(if *b { 1.0 } else { 0.0 })),
            Value::Number(n) => n.as_f64().map(Operation::Number),
            Value::String(s) if self.coerce => parse_python_float(s).map(Operation::Number),
            _ => None,
        }
    }
}

/// `(metric ref agg)` or `(metric (ref agg) ...)`, at least one pair, all strings.
fn metric(args: &[Value]) -> Option<Operation> {
    if let [Value::String(r), Value::String(a)] = args {
        return Some(Operation::Metric(vec![Reference::new(
            r.clone(),
            a.clone(),
        )]));
    }
    if args.is_empty() {
        return None;
    }
    let refs = args
        .iter()
        .map(|pair| match pair.as_array()?.as_slice() {
            [Value::String(r), Value::String(a)] => Some(Reference::new(r.clone(), a.clone())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Operation::Metric(refs))
}

fn reduce_method(v: &Value) -> Option<ReduceMethod> {
    v.as_str()?.parse().ok()
}

/// A positive timespan: JSON number of seconds, or any timespan text (api.md §1.8).
fn timespan(v: &Value) -> Option<i64> {
    let input = match v {
        Value::Number(n) => TimeInput::Number(n.as_f64()?),
        Value::String(s) => TimeInput::Text(s),
        _ => return None,
    };
    parse_timespan_positive(&input).ok()
}

/// A window ≥ 1 as Python's `int()` coerces it: integers, floats truncated, bools, decimal
/// integer strings (sign, surrounding whitespace, single underscores between digits).
fn window(v: &Value) -> Option<usize> {
    let w: i64 = match v {
        Value::Bool(b) => i64::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i,
            None => {
                let f = n.as_f64()?.trunc();
                if !f.is_finite() || f.abs() > 1e18 {
                    return None;
                }
                f as i64
            }
        },
        Value::String(s) => python_int(s)?,
        _ => return None,
    };
    usize::try_from(w).ok().filter(|w| *w >= 1)
}

fn python_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || bytes[0] == b'_' || bytes[bytes.len() - 1] == b'_' {
        return None;
    }
    if bytes.windows(2).any(|w| w == b"__") {
        return None;
    }
    if !bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_') {
        return None;
    }
    let n: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -n } else { n })
}

/// The Python type name of a JSON value as Gnocchi's messages show it.
fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python's `str()` of a JSON value (strings bare, containers in repr form).
fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            python_repr(other, &mut out);
            out
        }
    }
}

fn python_repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&gnocchi_core::time::python_float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => {
            let quote = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            out.push(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(&Value::String(k.clone()), out);
                out.push_str(": ");
                python_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// pyparsing's default whitespace.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Parses the first complete parenthesised list of `s` into nested arrays of string atoms;
/// anything after it is ignored (api.md §11.1).
fn parse_sexp(s: &str) -> Result<Value, OperationError> {
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    while pos < chars.len() && is_space(chars[pos]) {
        pos += 1;
    }
    if chars.get(pos) != Some(&'(') {
        return Err(syntax_error(&chars, pos, '('));
    }
    // Iterative, so a deeply nested string cannot overflow the stack.
    let mut stack: Vec<Vec<Value>> = vec![Vec::new()];
    pos += 1;
    loop {
        while pos < chars.len() && is_space(chars[pos]) {
            pos += 1;
        }
        match chars.get(pos) {
            None => return Err(syntax_error(&chars, pos, ')')),
            Some('(') => {
                stack.push(Vec::new());
                pos += 1;
            }
            Some(')') => {
                pos += 1;
                let done = Value::Array(stack.pop().expect("the stack is never empty here"));
                match stack.last_mut() {
                    Some(parent) => parent.push(done),
                    None => return Ok(done),
                }
            }
            Some(_) => {
                let start = pos;
                while pos < chars.len() && !is_space(chars[pos]) && !matches!(chars[pos], '(' | ')')
                {
                    pos += 1;
                }
                let atom: String = chars[start..pos].iter().collect();
                stack
                    .last_mut()
                    .expect("the stack is never empty here")
                    .push(Value::String(atom));
            }
        }
    }
}

/// A pyparsing-style message: `Expected ')', found end of text  (at char 15), (line:1, col:16)`.
fn syntax_error(chars: &[char], pos: usize, expected: char) -> OperationError {
    let found = match chars.get(pos) {
        None => String::from("end of text"),
        Some(c) => format!("'{c}'"),
    };
    let line = 1 + chars[..pos].iter().filter(|c| **c == '\n').count();
    let col = 1 + pos
        - chars[..pos]
            .iter()
            .rposition(|c| *c == '\n')
            .map_or(0, |i| i + 1);
    OperationError::StringSyntax {
        message: format!(
            "Expected '{expected}', found {found}  (at char {pos}), (line:{line}, col:{col})"
        ),
    }
}
