//! The oslo.policy rule language, Gnocchi's default rules and their evaluation
//! (shared/spec/api.md §2.3, §2.4).
//!
//! A rule string is parsed once into a [`Check`] tree; evaluation takes the caller's
//! credentials and a target (a JSON object, flattened with `.`).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

/// Gnocchi's default rules (§2.4), overridable one by one by `[oslo_policy] policy_file`.
const DEFAULT_RULES: &[(&str, &str)] = &[
    ("context_is_admin", "role:admin"),
    ("admin_or_service", "role:admin or role:service"),
    (
        "creator",
        "user:%(creator)s or project_id:%(created_by_project_id)s",
    ),
    ("admin_or_creator", "role:admin or rule:creator"),
    ("resource_owner", "project_id:%(project_id)s"),
    ("metric_owner", "project_id:%(resource.project_id)s"),
    ("get status", "role:admin"),
    ("create resource", ""),
    (
        "get resource",
        "rule:admin_or_creator or rule:resource_owner",
    ),
    ("update resource", "rule:admin_or_service or rule:creator"),
    ("delete resource", "rule:admin_or_creator"),
    ("delete resources", "rule:admin_or_creator"),
    (
        "list resource",
        "rule:admin_or_creator or rule:resource_owner",
    ),
    (
        "search resource",
        "rule:admin_or_service or rule:creator or rule:resource_owner",
    ),
    ("create resource type", "rule:admin_or_service"),
    ("get resource type", ""),
    ("update resource type", "rule:admin_or_service"),
    ("delete resource type", "role:admin"),
    ("list resource type", ""),
    ("create archive policy", "rule:admin_or_service"),
    ("get archive policy", ""),
    ("update archive policy", "role:admin"),
    ("delete archive policy", "role:admin"),
    ("list archive policy", ""),
    ("create archive policy rule", "role:admin"),
    ("get archive policy rule", ""),
    ("update archive policy rule", "role:admin"),
    ("delete archive policy rule", "role:admin"),
    ("list archive policy rule", ""),
    ("create metric", ""),
    (
        "get metric",
        "rule:admin_or_service or rule:creator or rule:metric_owner",
    ),
    ("delete metric", "rule:admin_or_creator"),
    ("list metric", "rule:admin_or_creator or rule:metric_owner"),
    (
        "search metric",
        "rule:admin_or_creator or rule:metric_owner",
    ),
    ("post measures", "rule:admin_or_service or rule:creator"),
    (
        "get measures",
        "rule:admin_or_service or rule:creator or rule:metric_owner",
    ),
];

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Check {
    /// `@` or `""`.
    Always,
    /// `!`.
    Never,
    /// `role:<name>`, case-insensitive.
    Role(String),
    /// `rule:<name>`.
    Rule(String),
    /// `<kind>:<match>`: a credential (or a literal) compared with the substituted match.
    Generic { kind: String, pattern: String },
    /// `not A`.
    Not(Box<Check>),
    /// `A and B and ...`.
    And(Vec<Check>),
    /// `A or B or ...`.
    Or(Vec<Check>),
}

/// A rule string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyParseError {
    /// The rule string.
    pub rule: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for PolicyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid policy rule {:?}: {}", self.rule, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Check(Check),
}

fn atom(word: &str) -> Check {
    match word {
        "@" => return Check::Always,
        "!" => return Check::Never,
        _ => {}
    }
    match word.split_once(':') {
        Some(("role", name)) => Check::Role(name.to_owned()),
        Some(("rule", name)) => Check::Rule(name.to_owned()),
        Some((kind, pattern)) => Check::Generic {
            kind: kind.to_owned(),
            pattern: pattern.to_owned(),
        },
        // oslo.policy treats an unparsable check as always false.
        None => Check::Never,
    }
}

fn tokenize(rule: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for word in rule.split_whitespace() {
        let mut w = word;
        while let Some(rest) = w.strip_prefix('(') {
            tokens.push(Token::Open);
            w = rest;
        }
        let mut closes = 0;
        while let Some(rest) = w.strip_suffix(')') {
            closes += 1;
            w = rest;
        }
        if !w.is_empty() {
            tokens.push(match w.to_ascii_lowercase().as_str() {
                "and" => Token::And,
                "or" => Token::Or,
                "not" => Token::Not,
                _ => {
                    // Quoted literals keep their text: `'value':%(key)s`.
                    Token::Check(atom(w))
                }
            });
        }
        tokens.extend(std::iter::repeat_n(Token::Close, closes));
    }
    tokens
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    rule: &'a str,
}

impl Parser<'_> {
    fn err(&self, message: &str) -> PolicyParseError {
        PolicyParseError {
            rule: self.rule.to_owned(),
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn or_expr(&mut self) -> Result<Check, PolicyParseError> {
        let mut items = vec![self.and_expr()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Check::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Check, PolicyParseError> {
        let mut items = vec![self.unary()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Check::And(items)
        })
    }

    fn unary(&mut self) -> Result<Check, PolicyParseError> {
        match self.peek().cloned() {
            Some(Token::Not) => {
                self.pos += 1;
                Ok(Check::Not(Box::new(self.unary()?)))
            }
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or_expr()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(self.err("missing ')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Check(c)) => {
                self.pos += 1;
                Ok(c)
            }
            Some(_) => Err(self.err("expected a check")),
            None => Err(self.err("unexpected end of rule")),
        }
    }
}

/// Parses one rule string; `""` is always true.
pub(crate) fn parse(rule: &str) -> Result<Check, PolicyParseError> {
    let tokens = tokenize(rule);
    if tokens.is_empty() {
        return Ok(Check::Always);
    }
    let mut p = Parser {
        tokens: &tokens,
        pos: 0,
        rule,
    };
    let check = p.or_expr()?;
    if p.pos != tokens.len() {
        return Err(p.err("unexpected token"));
    }
    Ok(check)
}

/// What the policy knows of the caller (§2.2).
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Attributes by name (`user`, `user_id`, `project_id`, `domain_id`); `None` is null.
    pub attrs: HashMap<String, Option<String>>,
    /// Role names.
    pub roles: Vec<String>,
}

/// Python `str()` of a flattened target value.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Array(_) | Value::Object(_) => crate::pyjson::python_repr(v),
    }
}

fn flatten(prefix: &str, obj: &Map<String, Value>, out: &mut HashMap<String, String>) {
    for (k, v) in obj {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let Value::Object(inner) = v {
            flatten(&key, inner, out);
        } else {
            out.insert(key, py_str(v));
        }
    }
}

/// Replaces each `%(key)s` with the target's value; `None` if a key is missing.
fn substitute(pattern: &str, target: &HashMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("%(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find(")s")?;
        out.push_str(target.get(&after[..end])?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

fn literal(kind: &str) -> Option<String> {
    let quoted = |q: char| {
        kind.strip_prefix(q)
            .and_then(|k| k.strip_suffix(q))
            .map(str::to_owned)
    };
    quoted('\'').or_else(|| quoted('"')).or_else(|| match kind {
        "True" | "False" | "None" => Some(kind.to_owned()),
        _ if kind.parse::<f64>().is_ok() => Some(kind.to_owned()),
        _ => None,
    })
}

/// The loaded rule set.
#[derive(Debug)]
pub struct PolicyEnforcer {
    rules: HashMap<String, Check>,
}

/// Loading `[oslo_policy] policy_file` failed.
#[derive(Debug)]
pub struct PolicyFileError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[oslo_policy] policy_file {}: {}",
            self.path, self.message
        )
    }
}

impl std::error::Error for PolicyFileError {}

impl PolicyEnforcer {
    /// The default rules only.
    pub fn with_defaults() -> Self {
        let rules = DEFAULT_RULES
            .iter()
            .map(|(name, rule)| {
                let check = parse(rule).expect("the embedded default rules parse");
                ((*name).to_owned(), check)
            })
            .collect();
        Self { rules }
    }

    /// The defaults overridden by the rules of a JSON or YAML file (rule name → rule string).
    pub fn from_file(path: &Path) -> Result<Self, PolicyFileError> {
        let err = |message: String| PolicyFileError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::with_overrides(&text).map_err(err)
    }

    /// The defaults overridden by a JSON or YAML document.
    pub(crate) fn with_overrides(text: &str) -> Result<Self, String> {
        let mut me = Self::with_defaults();
        if text.trim().is_empty() {
            return Ok(me);
        }
        // YAML is a superset of JSON: one parser reads both formats.
        let map: HashMap<String, String> = serde_yaml::from_str(text)
            .map_err(|e| format!("expected a mapping of rule name to rule string: {e}"))?;
        for (name, rule) in map {
            let check = parse(&rule).map_err(|e| e.to_string())?;
            me.rules.insert(name, check);
        }
        Ok(me)
    }

    /// Evaluates rule `name` for `creds` on `target`; an unknown rule is false.
    pub fn check(&self, name: &str, creds: &Credentials, target: &Value) -> bool {
        let mut flat = HashMap::new();
        if let Value::Object(obj) = target {
            flatten("", obj, &mut flat);
        }
        match self.rules.get(name) {
            Some(check) => self.eval(check, creds, &flat, 0),
            None => false,
        }
    }

    /// The outcome of rule `name` for `creds` when no target could change it (`role:admin`
    /// passing, say); `None` when it depends on the target. Requests that check one rule on
    /// many targets (a batch of measures) then build no target at all.
    pub fn check_without_target(&self, name: &str, creds: &Credentials) -> Option<bool> {
        match self.rules.get(name) {
            Some(check) => self.decide(check, creds, 0),
            None => Some(false),
        }
    }

    fn eval(
        &self,
        check: &Check,
        creds: &Credentials,
        target: &HashMap<String, String>,
        depth: usize,
    ) -> bool {
        // A rule referring to itself would recurse forever; treat deep chains as false.
        if depth > MAX_DEPTH {
            return false;
        }
        match check {
            Check::Always => true,
            Check::Never => false,
            Check::Role(name) => {
                substitute(name, target).is_some_and(|name| has_role(creds, &name))
            }
            Check::Rule(name) => self
                .rules
                .get(name)
                .is_some_and(|c| self.eval(c, creds, target, depth + 1)),
            Check::Generic { kind, pattern } => {
                substitute(pattern, target).is_some_and(|value| matches(kind, &value, creds))
            }
            Check::Not(inner) => !self.eval(inner, creds, target, depth + 1),
            Check::And(items) => items.iter().all(|c| self.eval(c, creds, target, depth + 1)),
            Check::Or(items) => items.iter().any(|c| self.eval(c, creds, target, depth + 1)),
        }
    }

    /// [`Self::eval`] in three-valued logic: a check that reads the target is unknown (`None`),
    /// and `and`/`or` are decided when a known operand decides them.
    fn decide(&self, check: &Check, creds: &Credentials, depth: usize) -> Option<bool> {
        if depth > MAX_DEPTH {
            return Some(false);
        }
        let reads_target = |pattern: &str| pattern.contains("%(");
        match check {
            Check::Always => Some(true),
            Check::Never => Some(false),
            Check::Role(name) => (!reads_target(name)).then(|| has_role(creds, name)),
            Check::Rule(name) => match self.rules.get(name) {
                Some(c) => self.decide(c, creds, depth + 1),
                None => Some(false),
            },
            Check::Generic { kind, pattern } => {
                (!reads_target(pattern)).then(|| matches(kind, pattern, creds))
            }
            Check::Not(inner) => self.decide(inner, creds, depth + 1).map(|b| !b),
            Check::And(items) => self.decide_all(items, creds, depth, false),
            Check::Or(items) => self.decide_all(items, creds, depth, true),
        }
    }

    /// `or` (`decisive` true) or `and` (`decisive` false) of `items`: the decisive value as
    /// soon as one item is known to have it, unknown if any item is unknown, else the other.
    fn decide_all(
        &self,
        items: &[Check],
        creds: &Credentials,
        depth: usize,
        decisive: bool,
    ) -> Option<bool> {
        let mut unknown = false;
        for item in items {
            match self.decide(item, creds, depth + 1) {
                Some(b) if b == decisive => return Some(decisive),
                Some(_) => {}
                None => unknown = true,
            }
        }
        (!unknown).then_some(!decisive)
    }
}

/// How deep `rule:` references are followed; deeper chains (a rule referring to itself) fail.
const MAX_DEPTH: usize = 32;

fn has_role(creds: &Credentials, name: &str) -> bool {
    creds.roles.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// Whether the credential (or literal) `kind` equals `value`, a match already substituted.
fn matches(kind: &str, value: &str, creds: &Credentials) -> bool {
    if let Some(lit) = literal(kind) {
        return lit == value;
    }
    match creds.attrs.get(kind) {
        Some(Some(c)) => c == value,
        Some(None) => value == "None",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn user(name: &str) -> Credentials {
        let mut c = Credentials::default();
        c.attrs.insert("user".into(), Some(name.into()));
        if name == "admin" {
            c.roles.push("admin".into());
        }
        c
    }

    #[test]
    fn parses_precedence_and_parentheses() {
        assert_eq!(parse("").expect("parses"), Check::Always);
        assert_eq!(
            parse("role:a or role:b and not role:c").expect("parses"),
            Check::Or(vec![
                Check::Role("a".into()),
                Check::And(vec![
                    Check::Role("b".into()),
                    Check::Not(Box::new(Check::Role("c".into())))
                ])
            ])
        );
        assert_eq!(
            parse("(role:a or @) and !").expect("parses"),
            Check::And(vec![
                Check::Or(vec![Check::Role("a".into()), Check::Always]),
                Check::Never
            ])
        );
        assert!(parse("(role:a").is_err());
        assert!(parse("role:a or").is_err());
    }

    #[test]
    fn defaults_in_basic_mode() {
        let p = PolicyEnforcer::with_defaults();
        let empty = json!({});
        assert!(p.check("create archive policy", &user("admin"), &empty));
        assert!(!p.check("create archive policy", &user("ADMIN"), &empty));
        assert!(!p.check("create archive policy", &user("foobar"), &empty));
        assert!(p.check("list archive policy", &user("foobar"), &empty));
        let metric = json!({"creator": "foobar", "created_by_project_id": "", "resource": null});
        assert!(p.check("get measures", &user("foobar"), &metric));
        assert!(!p.check("get measures", &user("foobaz"), &metric));
        assert!(p.check("delete metric", &user("admin"), &metric));
        assert!(!p.check("no such rule", &user("admin"), &empty));
    }

    #[test]
    fn nested_targets_are_flattened() {
        let p = PolicyEnforcer::with_overrides(r#"{"get metric": "rule:metric_owner"}"#)
            .expect("loads");
        let mut c = Credentials::default();
        c.attrs.insert("project_id".into(), Some("p1".into()));
        assert!(p.check("get metric", &c, &json!({"resource": {"project_id": "p1"}})));
        assert!(!p.check("get metric", &c, &json!({"resource": {"project_id": "p2"}})));
        assert!(!p.check("get metric", &c, &json!({})));
    }

    #[test]
    fn yaml_overrides_replace_single_rules() {
        let p = PolicyEnforcer::with_overrides("\"get status\": \"\"\n\"create metric\": \"!\"\n")
            .expect("loads");
        assert!(p.check("get status", &user("foobar"), &json!({})));
        assert!(!p.check("create metric", &user("admin"), &json!({})));
        assert!(p.check("delete archive policy", &user("admin"), &json!({})));
        assert!(PolicyEnforcer::with_overrides("- a list").is_err());
        assert!(PolicyEnforcer::with_overrides("{\"x\": \"(role:a\"}").is_err());
    }

    #[test]
    fn rules_decided_without_a_target() {
        let p = PolicyEnforcer::with_overrides(r#"{"r": "not project_id:%(project_id)s"}"#)
            .expect("loads");
        assert_eq!(
            p.check_without_target("post measures", &user("admin")),
            Some(true)
        );
        assert_eq!(
            p.check_without_target("post measures", &user("foobar")),
            None
        );
        assert_eq!(
            p.check_without_target("create archive policy", &user("foobar")),
            Some(false)
        );
        assert_eq!(p.check_without_target("r", &user("admin")), None);
        assert_eq!(
            p.check_without_target("no such rule", &user("admin")),
            Some(false)
        );
    }

    /// Rules of a few atoms, some reading the target, under `and`, `or` and `not`.
    fn arb_rule() -> impl Strategy<Value = String> {
        let atom = prop::sample::select(vec![
            "role:admin",
            "role:%(role)s",
            "user:%(creator)s",
            "user:alice",
            "'on':%(flag)s",
            "@",
            "!",
        ])
        .prop_map(str::to_owned);
        atom.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
    }

    fn arb_target() -> impl Strategy<Value = Value> {
        let field = |values: &'static [&'static str]| {
            proptest::option::of(prop::sample::select(values.to_vec()))
        };
        (
            field(&["alice", "bob"]),
            field(&["admin", "member"]),
            field(&["on", "off"]),
        )
            .prop_map(|(creator, role, flag)| {
                let mut o = Map::new();
                for (k, v) in [("creator", creator), ("role", role), ("flag", flag)] {
                    if let Some(v) = v {
                        o.insert(k.into(), json!(v));
                    }
                }
                Value::Object(o)
            })
    }

    proptest! {
        #[test]
        fn a_decision_without_target_holds_for_every_target(
            rule in arb_rule(),
            who in prop::sample::select(vec!["alice", "admin", "bob"]),
            targets in proptest::collection::vec(arb_target(), 1..6),
        ) {
            let p = PolicyEnforcer::with_overrides(&json!({ "r": rule }).to_string()).expect("loads");
            let creds = user(who);
            let decided = p.check_without_target("r", &creds);
            if !rule.contains("%(") {
                prop_assert!(decided.is_some());
            }
            if let Some(decision) = decided {
                for target in &targets {
                    prop_assert_eq!(p.check("r", &creds, target), decision);
                }
            }
        }
    }

    #[test]
    fn literal_checks_compare_with_the_target() {
        let p = PolicyEnforcer::with_overrides("{\"r\": \"'on':%(flag)s\"}").expect("loads");
        assert!(p.check("r", &Credentials::default(), &json!({"flag": "on"})));
        assert!(!p.check("r", &Credentials::default(), &json!({"flag": "off"})));
    }
}
