//! The transport-neutral classification every crate's error reports.

/// What kind of failure an error is, so that callers (the API, metricd) can react without
/// knowing the concrete error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The input is invalid.
    Invalid,
    /// The operation conflicts with the current state (e.g. a policy still in use).
    Conflict,
    /// A backend is unreachable; retrying later may succeed.
    Unavailable,
    /// A fault of ours.
    Internal,
}
