//! UUID parsing and the resource id transformation (shared/spec/api.md §1.9).

use uuid::Uuid;

/// Namespace of the UUID5 of non-UUID resource ids.
const RESOURCE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x0a7a15ff_aa13_4ac2_897c_9bdf30ce175b);

/// Longest non-UUID id, in characters.
const MAX_ORIGINAL_ID_CHARS: usize = 289;

/// Python-style UUID parsing: `urn:`/`uuid:` prefixes, braces and dashes are ignored.
pub(crate) fn parse_uuid(s: &str) -> Option<Uuid> {
    let mut t = s.trim();
    for prefix in ["urn:", "uuid:"] {
        if t.len() >= prefix.len() && t[..prefix.len()].eq_ignore_ascii_case(prefix) {
            t = &t[prefix.len()..];
        }
    }
    let t = t.trim_start_matches('{').trim_end_matches('}');
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Uuid::try_parse(&hex).ok()
}

/// Why a resource id cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceIdError {
    /// It contains `/`.
    Slash,
    /// A non-UUID id longer than 289 characters.
    TooLong,
}

impl ResourceIdError {
    /// Gnocchi's message.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            ResourceIdError::Slash => "'/' is not supported in resource id",
            ResourceIdError::TooLong => "transformable resource id >289 max allowed characters",
        }
    }
}

/// The stored id of a client-supplied resource id, for the caller `creator`.
pub(crate) fn transform(id: &str, creator: Option<&str>) -> Result<Uuid, ResourceIdError> {
    if id.contains('/') {
        return Err(ResourceIdError::Slash);
    }
    if let Some(u) = parse_uuid(id) {
        return Ok(u);
    }
    if id.chars().count() > MAX_ORIGINAL_ID_CHARS {
        return Err(ResourceIdError::TooLong);
    }
    let name = format!("{id}\u{0}{}", creator.unwrap_or("\u{0}"));
    Ok(Uuid::new_v5(&RESOURCE_ID_NAMESPACE, name.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_like_gnocchi() {
        for (id, creator, uuid) in [
            ("1.2.3.4", "foobar", "a9c729cc-d1b0-5e6b-b5ba-8b5a7f45f1fc"),
            ("foobar", "foobar", "2fbfbb20-8d56-5e1e-afb9-b3007da11fdf"),
            ("foobar", "admin", "b4d568e4-7af1-5aec-ac3f-9c09fa3685a9"),
            ("myvalue", "admin", "6b9e2039-98d0-5d8d-9153-2d7491cf13e5"),
        ] {
            assert_eq!(
                transform(id, Some(creator)).expect("valid").to_string(),
                uuid
            );
        }
        let u = "75c44741-cc60-4033-804e-2d3098c7d2e9";
        assert_eq!(
            transform("{75C44741-CC60-4033-804E-2D3098C7D2E9}", Some("x"))
                .expect("valid")
                .to_string(),
            u
        );
        assert_eq!(transform("a/b", None), Err(ResourceIdError::Slash));
        assert_eq!(
            transform(&"x".repeat(290), None),
            Err(ResourceIdError::TooLong)
        );
        assert!(parse_uuid("foobar").is_none());
    }
}
