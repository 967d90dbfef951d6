//! Option value types: how each is parsed from INI text (oslo.config's rules), rendered in the
//! sample, and described in it.

use std::ops::{RangeFrom, RangeInclusive};

use crate::time::{parse_bool_query, parse_python_float};

/// A type an option can have.
pub(crate) trait OptValue: Sized {
    /// How the sample describes the type, as oslo-config-generator does (`integer value`).
    const TYPE_DESC: &'static str;

    /// Parses the INI text; the error completes "invalid value ... : <error>".
    fn parse_opt(raw: &str) -> Result<Self, String>;

    /// The text form written in the sample; `None` for an unset option (`<None>`).
    fn render(&self) -> Option<String>;

    /// The allowed values, for choice options.
    fn choices() -> &'static [&'static str] {
        &[]
    }

    /// The value as an integer, for range checks.
    fn as_i64(&self) -> Option<i64> {
        None
    }
}

impl OptValue for String {
    const TYPE_DESC: &'static str = "string value";

    fn parse_opt(raw: &str) -> Result<Self, String> {
        Ok(raw.to_owned())
    }

    fn render(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl OptValue for bool {
    const TYPE_DESC: &'static str = "boolean value";

    fn parse_opt(raw: &str) -> Result<Self, String> {
        // oslo.config's Boolean type accepts the same words as the API's query strings.
        parse_bool_query(raw).ok_or_else(|| {
            "expected a boolean (true/false, yes/no, on/off, 1/0, t/f, y/n)".to_owned()
        })
    }

    fn render(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// Python `int()` text: surrounding whitespace, a sign, single underscores between digits.
fn parse_python_int(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    s.replace('_', "").parse().ok()
}

macro_rules! int_value {
    ($($ty:ty => $desc:literal),* $(,)?) => {$(
        impl OptValue for $ty {
            const TYPE_DESC: &'static str = $desc;

            fn parse_opt(raw: &str) -> Result<Self, String> {
                let n = parse_python_int(raw).ok_or_else(|| "expected an integer".to_owned())?;
                <$ty>::try_from(n).map_err(|_| {
                    format!("expected an integer between {} and {}", <$ty>::MIN, <$ty>::MAX)
                })
            }

            fn render(&self) -> Option<String> {
                Some(self.to_string())
            }

            fn as_i64(&self) -> Option<i64> {
                i64::try_from(*self).ok()
            }
        }
    )*};
}

int_value!(i64 => "integer value", u32 => "integer value", u64 => "integer value", u16 => "port value");

impl OptValue for f64 {
    const TYPE_DESC: &'static str = "floating point value";

    fn parse_opt(raw: &str) -> Result<Self, String> {
        parse_python_float(raw)
            .filter(|f| f.is_finite())
            .ok_or_else(|| "expected a number".to_owned())
    }

    fn render(&self) -> Option<String> {
        Some(crate::time::python_float_repr(*self))
    }
}

impl OptValue for Vec<String> {
    const TYPE_DESC: &'static str = "list value";

    fn parse_opt(raw: &str) -> Result<Self, String> {
        Ok(raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }

    fn render(&self) -> Option<String> {
        Some(self.join(","))
    }
}

/// An unset-able option; an empty value means unset.
impl<T: OptValue> OptValue for Option<T> {
    const TYPE_DESC: &'static str = T::TYPE_DESC;

    fn parse_opt(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            Ok(None)
        } else {
            T::parse_opt(raw).map(Some)
        }
    }

    fn render(&self) -> Option<String> {
        self.as_ref().and_then(OptValue::render)
    }

    fn choices() -> &'static [&'static str] {
        T::choices()
    }

    fn as_i64(&self) -> Option<i64> {
        self.as_ref().and_then(OptValue::as_i64)
    }
}

/// Inclusive integer bounds of an option, written as a range in the section tables.
pub(crate) trait IntRange {
    /// `(minimum, maximum)`.
    fn bounds(&self) -> (Option<i64>, Option<i64>);
}

impl IntRange for RangeInclusive<i64> {
    fn bounds(&self) -> (Option<i64>, Option<i64>) {
        (Some(*self.start()), Some(*self.end()))
    }
}

impl IntRange for RangeFrom<i64> {
    fn bounds(&self) -> (Option<i64>, Option<i64>) {
        (Some(self.start), None)
    }
}

/// Checks an integer option against its bounds.
pub(crate) fn check_range<T: OptValue>(
    value: &T,
    (min, max): (Option<i64>, Option<i64>),
) -> Result<(), String> {
    let Some(n) = value.as_i64() else {
        return Ok(());
    };
    let too_small = min.is_some_and(|m| n < m);
    let too_big = max.is_some_and(|m| n > m);
    if !(too_small || too_big) {
        return Ok(());
    }
    Err(match (min, max) {
        (Some(lo), Some(hi)) => format!("expected an integer between {lo} and {hi}"),
        (Some(lo), None) => format!("expected an integer of at least {lo}"),
        (None, Some(hi)) => format!("expected an integer of at most {hi}"),
        (None, None) => unreachable!("a bound was exceeded"),
    })
}

/// Defines an enum of the allowed values of a choice option.
macro_rules! choice_enum {
    (
        $(#[doc = $doc:literal])*
        $name:ident { $( $(#[doc = $vdoc:literal])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[doc = $vdoc])* $variant, )+
        }

        impl $name {
            /// The value as written in `gnocchi.conf`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::config::value::OptValue for $name {
            const TYPE_DESC: &'static str = "string value";

            fn parse_opt(raw: &str) -> Result<Self, String> {
                match raw.trim() {
                    $( $text => Ok(Self::$variant), )+
                    _ => Err(format!("expected one of {}", Self::choices().join(", "))),
                }
            }

            fn render(&self) -> Option<String> {
                Some(self.as_str().to_owned())
            }

            fn choices() -> &'static [&'static str] {
                &[$($text),+]
            }
        }
    };
}

pub(crate) use choice_enum;

/// Table helper: a string default.
pub(crate) fn s(text: &str) -> String {
    text.to_owned()
}

/// Table helper: a list default.
pub(crate) fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
