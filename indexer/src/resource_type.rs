//! Resource types and their typed attributes (shared/spec/api.md §8): the attribute model,
//! its JSON representation (§8.1) and the typed values resources hold (§8.2).
//!
//! The API validates definitions and values (with Gnocchi's messages); the indexer stores them
//! in per-type SQL tables, one column per attribute.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Number, Value};
use uuid::Uuid;

/// Lifecycle state of a resource type (api.md §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceTypeState {
    /// Being created.
    Creating,
    /// Usable.
    Active,
    /// Creation failed.
    CreationError,
    /// Being deleted.
    Deleting,
    /// Deletion failed.
    DeletionError,
    /// Being updated.
    Updating,
    /// Update failed.
    UpdatingError,
}

impl ResourceTypeState {
    /// The API and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceTypeState::Creating => "creating",
            ResourceTypeState::Active => "active",
            ResourceTypeState::CreationError => "creation_error",
            ResourceTypeState::Deleting => "deleting",
            ResourceTypeState::DeletionError => "deletion_error",
            ResourceTypeState::Updating => "updating",
            ResourceTypeState::UpdatingError => "updating_error",
        }
    }

    /// Parses the database spelling.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "creating" => ResourceTypeState::Creating,
            "active" => ResourceTypeState::Active,
            "creation_error" => ResourceTypeState::CreationError,
            "deleting" => ResourceTypeState::Deleting,
            "deletion_error" => ResourceTypeState::DeletionError,
            "updating" => ResourceTypeState::Updating,
            "updating_error" => ResourceTypeState::UpdatingError,
            _ => return None,
        })
    }
}

/// The type of an attribute with its constraints (api.md §8.2).
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeType {
    /// Text with a length range in characters (defaults 0 and 256).
    String {
        /// Minimum length.
        min_length: u32,
        /// Maximum length.
        max_length: u32,
    },
    /// A UUID, stored canonical.
    Uuid,
    /// A number; the bounds keep the JSON number type they were given with (`-2`, `-2.3`).
    Number {
        /// Inclusive lower bound.
        min: Option<Number>,
        /// Inclusive upper bound.
        max: Option<Number>,
    },
    /// `true` / `false`.
    Bool,
    /// A point in time, stored UTC at microsecond precision.
    Datetime,
}

impl AttributeType {
    /// The `type` key of the representation.
    pub fn name(&self) -> &'static str {
        match self {
            AttributeType::String { .. } => "string",
            AttributeType::Uuid => "uuid",
            AttributeType::Number { .. } => "number",
            AttributeType::Bool => "bool",
            AttributeType::Datetime => "datetime",
        }
    }
}

/// One attribute of a resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDefinition {
    /// Type and constraints.
    pub attribute_type: AttributeType,
    /// Must be given at resource creation (Gnocchi's default is `true`).
    pub required: bool,
    /// `options.fill`: the value existing resources and their history get when the attribute
    /// is added or modified (api.md §8.5). Never part of the representation, never stored.
    pub fill: Option<AttributeValue>,
}

impl AttributeDefinition {
    /// The §8.1 representation: `type`, `required` and the type's constraint keys.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("type".into(), json!(self.attribute_type.name()));
        o.insert("required".into(), json!(self.required));
        match &self.attribute_type {
            AttributeType::String {
                min_length,
                max_length,
            } => {
                o.insert("min_length".into(), json!(min_length));
                o.insert("max_length".into(), json!(max_length));
            }
            AttributeType::Number { min, max } => {
                let n = |v: &Option<Number>| v.clone().map_or(Value::Null, Value::Number);
                o.insert("min".into(), n(min));
                o.insert("max".into(), n(max));
            }
            AttributeType::Uuid | AttributeType::Bool | AttributeType::Datetime => {}
        }
        Value::Object(o)
    }

    /// Reads back what [`to_json`](Self::to_json) wrote (the stored form); `None` if it is
    /// not such a document. Lenient: missing keys take Gnocchi's defaults.
    pub fn from_json(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let required = match o.get("required") {
            None => true,
            Some(r) => r.as_bool()?,
        };
        let num = |k: &str| match o.get(k) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(n)) => Some(Some(n.clone())),
            Some(_) => None,
        };
        let len = |k: &str, default: u32| match o.get(k) {
            None => Some(default),
            Some(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        };
        let attribute_type = match o.get("type")?.as_str()? {
            "string" => AttributeType::String {
                min_length: len("min_length", 0)?,
                max_length: len("max_length", 256)?,
            },
            "uuid" => AttributeType::Uuid,
            "number" => AttributeType::Number {
                min: num("min")?,
                max: num("max")?,
            },
            "bool" => AttributeType::Bool,
            "datetime" => AttributeType::Datetime,
            _ => return None,
        };
        Some(Self {
            attribute_type,
            required,
            fill: None,
        })
    }
}

/// A resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// Unique name; `generic` always exists.
    pub name: String,
    /// Lifecycle state.
    pub state: ResourceTypeState,
    /// Attribute name → definition (`fill` is always `None` here).
    pub attributes: BTreeMap<String, AttributeDefinition>,
}

impl ResourceType {
    /// The §8.1 representation: exactly `name`, `attributes`, `state`.
    pub fn to_json(&self) -> Value {
        let attributes: Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, d)| (k.clone(), d.to_json()))
            .collect();
        json!({"name": self.name, "attributes": attributes, "state": self.state.as_str()})
    }
}

/// A typed attribute value of a resource (`Null` for an unset optional attribute).
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// No value.
    Null,
    /// A `string` attribute.
    String(String),
    /// A `uuid` attribute.
    Uuid(Uuid),
    /// A `number` attribute (Gnocchi stores floats).
    Number(f64),
    /// A `bool` attribute.
    Bool(bool),
    /// A `datetime` attribute (microsecond precision once stored).
    Datetime(DateTime<Utc>),
}

impl AttributeValue {
    /// Whether this value may be stored in an attribute of type `t` (`Null` fits all).
    pub fn fits(&self, t: &AttributeType) -> bool {
        matches!(
            (self, t),
            (AttributeValue::Null, _)
                | (AttributeValue::String(_), AttributeType::String { .. })
                | (AttributeValue::Uuid(_), AttributeType::Uuid)
                | (AttributeValue::Number(_), AttributeType::Number { .. })
                | (AttributeValue::Bool(_), AttributeType::Bool)
                | (AttributeValue::Datetime(_), AttributeType::Datetime)
        )
    }
}

/// Why a JSON value is not valid for an attribute (api.md §8.2). The API renders Gnocchi's
/// texts: `expected str`, `length of value must be at least N`, `... at most N`,
/// `badly formed hexadecimal UUID string`, `expected Real`, `value must be at least N`,
/// `... at most N`, `expected bool`, and its timestamp error.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValueError {
    /// A string attribute got something else.
    ExpectedStr,
    /// Shorter than `min_length` characters.
    TooShort(u32),
    /// Longer than `max_length` characters.
    TooLong(u32),
    /// Not a UUID (§1.9 parsing).
    BadUuid,
    /// A number attribute got something else.
    ExpectedReal,
    /// Below `min` (as posted).
    BelowMin(Number),
    /// Above `max` (as posted).
    AboveMax(Number),
    /// A bool attribute got something else.
    ExpectedBool,
    /// Not a timestamp (§1.7).
    BadTimestamp,
}

impl AttributeValue {
    /// Validates and converts a JSON value for an attribute of type `t`; `null` is `Null`
    /// (whether that is allowed is the caller's `required` check). `now_ns` resolves relative
    /// timestamps.
    pub fn from_json(
        t: &AttributeType,
        v: &Value,
        now_ns: i64,
    ) -> Result<AttributeValue, AttributeValueError> {
        use AttributeValueError as E;
        if v.is_null() {
            return Ok(AttributeValue::Null);
        }
        Ok(match t {
            AttributeType::String {
                min_length,
                max_length,
            } => {
                let s = v.as_str().ok_or(E::ExpectedStr)?;
                let n = s.chars().count();
                if n < *min_length as usize {
                    return Err(E::TooShort(*min_length));
                }
                if n > *max_length as usize {
                    return Err(E::TooLong(*max_length));
                }
                AttributeValue::String(s.to_owned())
            }
            AttributeType::Uuid => {
                let s = v.as_str().ok_or(E::BadUuid)?;
                AttributeValue::Uuid(parse_uuid(s).ok_or(E::BadUuid)?)
            }
            AttributeType::Number { min, max } => {
                // Gnocchi lets booleans through as numbers (api.md §8.2).
                let x = match v {
                    Value::Number(n) => n.as_f64().ok_or(E::ExpectedReal)?,
                    Value::Bool(b) => f64::from(u8::from(*b)),
                    _ => return Err(E::ExpectedReal),
                };
                if let Some(m) = min.as_ref().filter(|m| m.as_f64().is_some_and(|m| x < m)) {
                    return Err(E::BelowMin(m.clone()));
                }
                if let Some(m) = max.as_ref().filter(|m| m.as_f64().is_some_and(|m| x > m)) {
                    return Err(E::AboveMax(m.clone()));
                }
                AttributeValue::Number(x)
            }
            AttributeType::Bool => AttributeValue::Bool(v.as_bool().ok_or(E::ExpectedBool)?),
            AttributeType::Datetime => {
                let input = gnocchi_core::time::TimeInput::from_json(v).ok_or(E::BadTimestamp)?;
                let ns = gnocchi_core::time::parse_timestamp(&input, now_ns)
                    .map_err(|_| E::BadTimestamp)?;
                let us = ns.div_euclid(1000);
                AttributeValue::Datetime(
                    DateTime::from_timestamp_micros(us).ok_or(E::BadTimestamp)?,
                )
            }
        })
    }
}

/// api.md §1.9 UUID parsing: optional `urn:` / `uuid:` prefixes and braces, dashes anywhere,
/// then exactly 32 hex digits.
pub(crate) fn parse_uuid(s: &str) -> Option<Uuid> {
    // As Python's `uuid.UUID`: the prefixes are removed wherever they appear.
    let rest = s.replace("urn:", "").replace("uuid:", "");
    let rest = rest.trim_matches(|c| c == '{' || c == '}');
    let hex: String = rest.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Uuid::parse_str(&hex).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_validated_per_type() {
        use AttributeValueError as E;
        let s = AttributeType::String {
            min_length: 2,
            max_length: 5,
        };
        assert_eq!(
            AttributeValue::from_json(&s, &json!("abc"), 0),
            Ok(AttributeValue::String("abc".into()))
        );
        assert_eq!(
            AttributeValue::from_json(&s, &json!("a"), 0),
            Err(E::TooShort(2))
        );
        assert_eq!(
            AttributeValue::from_json(&s, &json!("abcdef"), 0),
            Err(E::TooLong(5))
        );
        assert_eq!(
            AttributeValue::from_json(&s, &json!(1), 0),
            Err(E::ExpectedStr)
        );
        assert_eq!(
            AttributeValue::from_json(&s, &Value::Null, 0),
            Ok(AttributeValue::Null)
        );
        let u = AttributeType::Uuid;
        assert_eq!(
            AttributeValue::from_json(
                &u,
                &json!("{urn:uuid:00000000-0000-0000-0000-00000000000A}"),
                0
            ),
            Ok(AttributeValue::Uuid(Uuid::from_u128(10)))
        );
        assert_eq!(
            AttributeValue::from_json(&u, &json!("urn:uuid:{0000000000000000000000000000000A}"), 0),
            Ok(AttributeValue::Uuid(Uuid::from_u128(10)))
        );
        assert_eq!(
            AttributeValue::from_json(&u, &json!("cd9eef"), 0),
            Err(E::BadUuid)
        );
        let n = AttributeType::Number {
            min: Some((-2).into()),
            max: Some(3.into()),
        };
        assert_eq!(
            AttributeValue::from_json(&n, &json!(true), 0),
            Ok(AttributeValue::Number(1.0))
        );
        assert_eq!(
            AttributeValue::from_json(&n, &json!(-3), 0),
            Err(E::BelowMin((-2).into()))
        );
        assert_eq!(
            AttributeValue::from_json(&n, &json!(3.5), 0),
            Err(E::AboveMax(3.into()))
        );
        assert_eq!(
            AttributeValue::from_json(&n, &json!("1"), 0),
            Err(E::ExpectedReal)
        );
        assert_eq!(
            AttributeValue::from_json(&AttributeType::Bool, &json!(1), 0),
            Err(E::ExpectedBool)
        );
        let d =
            AttributeValue::from_json(&AttributeType::Datetime, &json!("2017-10-10T10:10:10Z"), 0)
                .expect("valid");
        assert_eq!(
            d,
            AttributeValue::Datetime(DateTime::from_timestamp(1_507_630_210, 0).expect("valid"))
        );
        assert_eq!(
            AttributeValue::from_json(&AttributeType::Datetime, &json!("nope"), 0),
            Err(E::BadTimestamp)
        );
    }

    #[test]
    fn representation_round_trips_and_keeps_number_types() {
        let posted = json!({"type": "number", "required": false, "min": -2, "max": 3.5});
        let d = AttributeDefinition::from_json(&posted).expect("valid");
        assert_eq!(d.to_json(), posted);
        let s = AttributeDefinition::from_json(&json!({"type": "string"})).expect("valid");
        assert_eq!(
            s.to_json(),
            json!({"type": "string", "required": true, "min_length": 0, "max_length": 256})
        );
        let u = AttributeDefinition::from_json(&json!({"type": "uuid"})).expect("valid");
        assert_eq!(u.to_json(), json!({"type": "uuid", "required": true}));
        assert!(AttributeDefinition::from_json(&json!({"type": "nope"})).is_none());
    }
}
