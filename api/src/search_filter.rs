//! The resource search filter languages (shared/spec/api.md §10.2, §10.5): the JSON language
//! validated with voluptuous-style messages into the indexer's [`Filter`], and the `filter=`
//! string syntax parsed into that JSON.

use gnocchi_indexer::{CmpOp, Filter};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::resource_id::transform;
use crate::validate::{Invalid, Path};

/// Validates a JSON filter. `{}` (at the top) is "no filter".
pub(crate) fn from_json(v: &Value, creator: &str) -> Result<Option<Filter>, ApiError> {
    let obj = crate::validate::object(v, &Path::root())?;
    if obj.is_empty() {
        return Ok(None);
    }
    let mut f = node(v, &Path::root())?.ok_or_else(unparsable)?;
    // §10.2: `id` values are transformed with the caller's creator (§1.9).
    f.map_values("id", &mut |v| {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Null => return Value::Null,
            other => crate::pyjson::python_repr(other),
        };
        match transform(&s, Some(creator)) {
            Ok(u) => Value::String(u.to_string()),
            Err(_) => v.clone(),
        }
    });
    Ok(Some(f))
}

fn unparsable() -> ApiError {
    ApiError::bad_request("Unable to parse this query")
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// One field → operand pair of a comparison, membership or pattern.
fn single_field<'a>(v: &'a Value, path: &Path) -> Result<(&'a String, &'a Value), Invalid> {
    let m = crate::validate::object(v, path)?;
    length(m, path)?;
    m.iter()
        .next()
        .ok_or_else(|| Invalid::value("length of value must be at least 1", path))
}

fn length(m: &Map<String, Value>, path: &Path) -> Result<(), Invalid> {
    match m.len() {
        0 => Err(Invalid::value("length of value must be at least 1", path)),
        1 => Ok(()),
        _ => Err(Invalid::value("length of value must be at most 1", path)),
    }
}

/// A filter node; `Ok(None)` for a nested `{}` (valid, but unusable at query time).
fn node(v: &Value, path: &Path) -> Result<Option<Filter>, ApiError> {
    let m = crate::validate::object(v, path)?;
    if m.is_empty() {
        return Ok(None);
    }
    if m.len() > 1 {
        return Err(Invalid::value("length of value must be at most 1", path).into());
    }
    let Some((op, operand)) = m.iter().next() else {
        return Ok(None);
    };
    let p = path.key(op);
    if let Some(cmp) = CmpOp::from_name(op) {
        let (field, value) = single_field(operand, &p)?;
        if !is_scalar(value) {
            return Err(Invalid::value("expected str", &p.key(field)).into());
        }
        return Ok(Some(Filter::cmp(cmp, field, value.clone())));
    }
    match op.as_str() {
        "in" => {
            let (field, value) = single_field(operand, &p)?;
            let fp = p.key(field);
            let values = crate::validate::list(value, &fp)?;
            if values.is_empty() {
                return Err(Invalid::value("length of value must be at least 1", &fp).into());
            }
            if let Some(i) = values.iter().position(|v| !is_scalar(v)) {
                return Err(Invalid::value("expected str", &fp.index(i)).into());
            }
            Ok(Some(Filter::In {
                field: field.clone(),
                values: values.clone(),
            }))
        }
        "like" | "ilike" => {
            let (field, value) = single_field(operand, &p)?;
            let fp = p.key(field);
            if field == "id" {
                return Err(Invalid::key("value must not be one of ['id']", &fp).into());
            }
            if !is_scalar(value) {
                return Err(Invalid::value("expected str", &fp).into());
            }
            let (field, pattern) = (field.clone(), value.clone());
            Ok(Some(if op == "like" {
                Filter::Like { field, pattern }
            } else {
                Filter::Ilike { field, pattern }
            }))
        }
        "and" | "or" | "∧" | "∨" => {
            let items = crate::validate::list(operand, &p)?;
            if items.is_empty() {
                return Err(Invalid::value("length of value must be at least 1", &p).into());
            }
            let mut subs = Vec::with_capacity(items.len());
            let mut empty = false;
            for (i, item) in items.iter().enumerate() {
                match node(item, &p.index(i))? {
                    Some(f) => subs.push(f),
                    None => empty = true,
                }
            }
            if empty {
                return Err(unparsable());
            }
            Ok(Some(if op == "and" || op == "∧" {
                Filter::And(subs)
            } else {
                Filter::Or(subs)
            }))
        }
        "not" => {
            crate::validate::object(operand, &p)?;
            let sub = node(operand, &p)?.ok_or_else(unparsable)?;
            Ok(Some(Filter::Not(Box::new(sub))))
        }
        _ => Err(Invalid::key("not a valid value", &p).into()),
    }
}

// --- the string syntax (§10.5) ---

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    LBracket,
    RBracket,
    Comma,
    Op(&'static str),
    Not,
    And,
    Or,
    Wedge,
    Vee,
    Term(Value),
}

struct Lexed {
    tok: Tok,
    /// Character offset of the token.
    at: usize,
    text: String,
}

const SYMBOL_OPS: [&str; 9] = [">=", "<=", "!=", "≠", "≥", "≤", ">", "<", "="];
const WORD_OPS: [&str; 8] = ["eq", "ne", "lt", "gt", "ge", "le", "in", "like"];

fn is_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

/// Length in chars of a UUID starting at `s`, if any.
fn uuid_len(s: &[char]) -> Option<usize> {
    let mut i = 0;
    let hex = |i: &mut usize, n: usize| -> bool {
        for _ in 0..n {
            if !s.get(*i).copied().is_some_and(is_hex) {
                return false;
            }
            *i += 1;
        }
        true
    };
    if !hex(&mut i, 8) {
        return None;
    }
    for n in [4, 4, 4, 12] {
        if s.get(i) == Some(&'-') {
            i += 1;
        }
        if !hex(&mut i, n) {
            return None;
        }
    }
    if s.get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
    {
        return None;
    }
    Some(i)
}

fn number_len(s: &[char]) -> Option<usize> {
    let mut i = 0;
    if matches!(s.first(), Some('+' | '-')) {
        i += 1;
    }
    let start = i;
    while s.get(i).is_some_and(char::is_ascii_digit) {
        i += 1;
    }
    if i == start {
        return None;
    }
    if s.get(i) == Some(&'.') {
        i += 1;
        while s.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
    }
    if matches!(s.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some('+' | '-')) {
            j += 1;
        }
        let digits = j;
        while s.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        if j > digits {
            i = j;
        }
    }
    Some(i)
}

fn parse_error(expected: &str, found: Option<&Lexed>, len: usize) -> ApiError {
    let (found, at) = match found {
        Some(l) => (format!("'{}'", l.text), l.at),
        None => ("end of text".to_owned(), len),
    };
    ApiError::bad_request(format!(
        "Invalid filter: Expected {expected}, found {found}  (at char {at}), (line:1, col:{})",
        at + 1
    ))
}

fn lex(input: &str) -> Result<Vec<Lexed>, ApiError> {
    let s: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let rest = &s[i..];
        let simple = match c {
            '(' => Some(Tok::Open),
            ')' => Some(Tok::Close),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            '∧' => Some(Tok::Wedge),
            '∨' => Some(Tok::Vee),
            _ => None,
        };
        let (tok, len) = if let Some(t) = simple {
            (t, 1)
        } else if let Some(op) = SYMBOL_OPS.iter().find(|op| {
            let chars: Vec<char> = op.chars().collect();
            rest.starts_with(&chars)
        }) {
            (Tok::Op(op), op.chars().count())
        } else if c == '"' || c == '\'' {
            match rest[1..].iter().position(|x| *x == c) {
                Some(end) => (
                    Tok::Term(Value::String(rest[1..=end].iter().collect())),
                    end + 2,
                ),
                None => {
                    let l = Lexed {
                        tok: Tok::Comma,
                        at: start,
                        text: c.to_string(),
                    };
                    return Err(parse_error("term", Some(&l), s.len()));
                }
            }
        } else if let Some(n) = uuid_len(rest) {
            (Tok::Term(Value::String(rest[..n].iter().collect())), n)
        } else if let Some(n) = number_len(rest) {
            let text: String = rest[..n].iter().collect();
            let f: f64 = text.parse().unwrap_or(0.0);
            let v = serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
            (Tok::Term(v), n)
        } else if c.is_ascii_alphabetic() {
            let n = rest
                .iter()
                .position(|x| !(x.is_ascii_alphanumeric() || *x == '_'))
                .unwrap_or(rest.len());
            let word: String = rest[..n].iter().collect();
            let tok = match word.as_str() {
                "not" => Tok::Not,
                "and" => Tok::And,
                "or" => Tok::Or,
                "None" | "none" | "null" => Tok::Term(Value::Null),
                "True" | "true" => Tok::Term(Value::Bool(true)),
                "False" | "false" => Tok::Term(Value::Bool(false)),
                w => match WORD_OPS.iter().find(|op| **op == w) {
                    Some(op) => Tok::Op(op),
                    None => Tok::Term(Value::String(word.clone())),
                },
            };
            (tok, n)
        } else {
            let l = Lexed {
                tok: Tok::Comma,
                at: start,
                text: c.to_string(),
            };
            return Err(parse_error("term", Some(&l), s.len()));
        };
        out.push(Lexed {
            tok,
            at: start,
            text: s[start..start + len].iter().collect(),
        });
        i += len;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Lexed>,
    pos: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|l| &l.tok)
    }

    fn fail(&self, expected: &str) -> ApiError {
        parse_error(expected, self.toks.get(self.pos), self.len)
    }

    fn binary(
        &mut self,
        sep: &Tok,
        key: &str,
        next: fn(&mut Self) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut items = vec![next(self)?];
        while self.peek() == Some(sep) {
            self.pos += 1;
            items.push(next(self)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            let mut m = Map::new();
            m.insert(key.to_owned(), Value::Array(items));
            Value::Object(m)
        })
    }

    fn or_expr(&mut self) -> Result<Value, ApiError> {
        self.binary(&Tok::Vee, "∨", Self::or2)
    }

    fn or2(&mut self) -> Result<Value, ApiError> {
        self.binary(&Tok::Or, "or", Self::and_expr)
    }

    fn and_expr(&mut self) -> Result<Value, ApiError> {
        self.binary(&Tok::Wedge, "∧", Self::and2)
    }

    fn and2(&mut self) -> Result<Value, ApiError> {
        self.binary(&Tok::And, "and", Self::unary)
    }

    fn unary(&mut self) -> Result<Value, ApiError> {
        match self.peek() {
            Some(Tok::Not) => {
                self.pos += 1;
                let inner = self.unary()?;
                let mut m = Map::new();
                m.insert("not".into(), inner);
                Ok(Value::Object(m))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let inner = self.or_expr()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(self.fail("')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            _ => self.condition(),
        }
    }

    fn term(&mut self) -> Result<Value, ApiError> {
        match self.peek().cloned() {
            Some(Tok::Term(v)) => {
                self.pos += 1;
                Ok(v)
            }
            Some(Tok::LBracket) => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.peek() == Some(&Tok::RBracket) {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.term()?);
                    match self.peek() {
                        Some(Tok::Comma) => self.pos += 1,
                        Some(Tok::RBracket) => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.fail("']'")),
                    }
                }
            }
            _ => Err(self.fail("term")),
        }
    }

    fn condition(&mut self) -> Result<Value, ApiError> {
        let left = self.term()?;
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            _ => return Err(self.fail("operator")),
        };
        self.pos += 1;
        let right = self.term()?;
        let field = match left {
            Value::String(s) => s,
            other => crate::pyjson::python_repr(&other),
        };
        let mut inner = Map::new();
        inner.insert(field, right);
        let mut m = Map::new();
        m.insert(op.to_owned(), Value::Object(inner));
        Ok(Value::Object(m))
    }
}

/// Parses the `filter=` string syntax into the JSON language (400 `Invalid filter: Expected …`).
pub(crate) fn parse_string(input: &str) -> Result<Value, ApiError> {
    let toks = lex(input)?;
    let mut p = Parser {
        len: input.chars().count(),
        toks,
        pos: 0,
    };
    let v = p.or_expr()?;
    if p.pos < p.toks.len() {
        return Err(p.fail("end of text"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(v: Value) -> String {
        match from_json(&v, "admin").expect_err("invalid").description() {
            crate::error::Description::Object { reason, .. } => reason.clone().unwrap_or_default(),
            crate::error::Description::Text(t) => t.clone(),
            crate::error::Description::Empty => String::new(),
        }
    }

    #[test]
    fn json_language_messages() {
        assert_eq!(
            reason(json!({"and": {"project_id": "foobar"}})),
            "expected a list for dictionary value @ data['and']"
        );
        assert_eq!(
            reason(json!({"not": [{"=": {"a": 1}}]})),
            "expected a dictionary for dictionary value @ data['not']"
        );
        assert_eq!(
            reason(json!({"ne": {"project_id": ["foobar"]}})),
            "expected str for dictionary value @ data['ne']['project_id']"
        );
        assert_eq!(
            reason(json!({"like": {"id": "fa%"}})),
            "value must not be one of ['id'] @ data['like']['id']"
        );
        assert_eq!(
            reason(json!({"in": {"id": []}})),
            "length of value must be at least 1 for dictionary value @ data['in']['id']"
        );
        assert_eq!(reason(json!({"and": [{}]})), "Unable to parse this query");
        assert_eq!(from_json(&json!({}), "admin").expect("valid"), None);
        let f = from_json(&json!({"=": {"id": "foobar"}}), "foobar").expect("valid");
        assert_eq!(
            f,
            Some(Filter::eq("id", "2fbfbb20-8d56-5e1e-afb9-b3007da11fdf"))
        );
    }

    #[test]
    fn string_syntax() {
        assert_eq!(
            parse_string("foo=bar").expect("valid"),
            json!({"=": {"foo": "bar"}})
        );
        assert_eq!(
            parse_string("id in [faef212f-0bf4-4030-a461-2186fef79be0, 05fde895-1234-1234-1234-123456789012]")
                .expect("valid"),
            json!({"in": {"id": ["faef212f-0bf4-4030-a461-2186fef79be0", "05fde895-1234-1234-1234-123456789012"]}})
        );
        assert_eq!(
            parse_string(
                "(foo=\"quote\" or bar like \"%%foo\" or not foo=\"what!\") and cat=\"meme\""
            )
            .expect("valid"),
            json!({"and": [
                {"or": [
                    {"=": {"foo": "quote"}},
                    {"like": {"bar": "%%foo"}},
                    {"not": {"=": {"foo": "what!"}}},
                ]},
                {"=": {"cat": "meme"}},
            ]})
        );
        assert_eq!(
            parse_string("a = 2 and b≠null").expect("valid"),
            json!({"and": [{"=": {"a": 2.0}}, {"≠": {"b": null}}]})
        );
        let e = parse_string("id == foobar").expect_err("invalid");
        match e.description() {
            crate::error::Description::Text(t) => {
                assert!(t.starts_with("Invalid filter: Expected"), "{t}")
            }
            other => panic!("{other:?}"),
        }
    }
}
