//! The indexer's error type: every failure names the object involved so the API can render
//! Gnocchi's message (shared/spec/api.md Appendix A) without guessing.

use gnocchi_core::ErrorKind;
use snafu::Snafu;
use uuid::Uuid;

/// Everything an [`Indexer`](crate::Indexer) call can fail with.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
pub enum Error {
    /// The indexer URL could not be understood.
    #[snafu(display("invalid indexer url {url}: {reason}"))]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The URL names a database this build cannot talk to.
    #[snafu(display(
        "unsupported indexer url {url}: expected a sqlite:///<relative path>, \
         sqlite:////<absolute path> or postgresql://<user>@<host>/<database> url"
    ))]
    UnsupportedScheme {
        /// The URL as configured.
        url: String,
    },

    /// Opening the connection pool failed.
    #[snafu(display("cannot connect to the indexer database {url}"))]
    Connect {
        /// The URL as configured.
        url: String,
        /// The driver error.
        source: sqlx::Error,
    },

    /// Running the schema migrations failed.
    #[snafu(display("cannot upgrade the indexer schema"))]
    Migrate {
        /// The migrator error.
        source: sqlx::migrate::MigrateError,
    },

    /// A statement failed for a reason that is not a domain error.
    #[snafu(display("indexer query failed: {op}"))]
    Query {
        /// What was being done, e.g. `insert metric`.
        op: &'static str,
        /// The driver error.
        source: sqlx::Error,
    },

    /// A stored row could not be decoded (hand-edited or corrupt database).
    #[snafu(display("corrupt indexer row in {table}: {reason}"))]
    CorruptRow {
        /// The table read.
        table: &'static str,
        /// What could not be decoded.
        reason: String,
    },

    /// No archive policy has this name.
    #[snafu(display("archive policy {name} does not exist"))]
    ArchivePolicyNotFound {
        /// The policy name.
        name: String,
    },

    /// An archive policy with this name exists already.
    #[snafu(display("archive policy {name} already exists"))]
    ArchivePolicyExists {
        /// The policy name.
        name: String,
    },

    /// A metric (active or awaiting expunge) or a rule still references the policy.
    #[snafu(display("archive policy {name} is still in use"))]
    ArchivePolicyInUse {
        /// The policy name.
        name: String,
    },

    /// An update tried to change the number of definition items.
    #[snafu(display(
        "archive policy {name} does not support change: granularities added or dropped"
    ))]
    ArchivePolicyGranularitiesAddedOrDropped {
        /// The policy name.
        name: String,
    },

    /// An update changed a granularity; `granularity_ns` is the first old one that differs
    /// (both lists sorted by granularity).
    #[snafu(display(
        "archive policy {name} does not support change: granularity {granularity_ns}ns changed"
    ))]
    ArchivePolicyGranularityChanged {
        /// The policy name.
        name: String,
        /// The old granularity that was changed, in nanoseconds.
        granularity_ns: i64,
    },

    /// No archive policy rule has this name.
    #[snafu(display("archive policy rule {name} does not exist"))]
    ArchivePolicyRuleNotFound {
        /// The rule name.
        name: String,
    },

    /// An archive policy rule with this name exists already.
    #[snafu(display("archive policy rule {name} already exists"))]
    ArchivePolicyRuleExists {
        /// The rule name.
        name: String,
    },

    /// Renaming rule `name` failed because `new_name` is taken.
    #[snafu(display("archive policy rule {name} cannot be renamed: {new_name} already exists"))]
    ArchivePolicyRuleRenameExists {
        /// The rule being renamed.
        name: String,
        /// The name asked for, already used by another rule.
        new_name: String,
    },

    /// No active metric has this id.
    #[snafu(display("metric {id} does not exist"))]
    MetricNotFound {
        /// The metric id.
        id: Uuid,
    },

    /// A metric row with this id exists already (active or deleted).
    #[snafu(display("metric {id} already exists"))]
    MetricExists {
        /// The metric id.
        id: Uuid,
    },

    /// The resource already has an active metric with this name (api.md §6.9).
    #[snafu(display("named metric {name} already exists on resource {resource_id}"))]
    NamedMetricExists {
        /// The metric name.
        name: String,
        /// The resource.
        resource_id: Uuid,
    },

    /// No resource has this id (in the type asked for, when one was given).
    #[snafu(display("resource {id} does not exist"))]
    ResourceNotFound {
        /// The resource id.
        id: Uuid,
    },

    /// A resource with this id exists already, in any type.
    #[snafu(display("resource {id} already exists"))]
    ResourceExists {
        /// The resource id.
        id: Uuid,
    },

    /// No resource type has this name.
    #[snafu(display("resource type {name} does not exist"))]
    ResourceTypeNotFound {
        /// The type name.
        name: String,
    },

    /// A resource type with this name exists already.
    #[snafu(display("resource type {name} already exists"))]
    ResourceTypeExists {
        /// The type name.
        name: String,
    },

    /// The type still has resources, or is `generic`.
    #[snafu(display("resource type {name} is still in use"))]
    ResourceTypeInUse {
        /// The type name.
        name: String,
    },

    /// Resources of a type can only be written while it is `active` (api.md §8.1).
    #[snafu(display("resource type {name} state is {} (expected: active)", state.as_str()))]
    ResourceTypeNotActive {
        /// The type name.
        name: String,
        /// Its current state.
        state: crate::resource_type::ResourceTypeState,
    },

    /// An attribute name the indexer cannot store (empty, longer than 63 characters, with a
    /// NUL character, `id` or `revision`); the API rejects Gnocchi's invalid names before
    /// calling.
    #[snafu(display("resource attribute name {name} is invalid"))]
    InvalidAttributeName {
        /// The attribute name.
        name: String,
    },

    /// A type update tried to change the type of an attribute (api.md §8.5).
    #[snafu(display(
        "type update is not available yet: changing {old} to {new} for attribute {attribute} \
         of resource {type_name}"
    ))]
    AttributeTypeChange {
        /// The resource type.
        type_name: String,
        /// The attribute.
        attribute: String,
        /// Old type name (`string`, `number`, ...).
        old: &'static str,
        /// New type name.
        new: &'static str,
    },

    /// A required attribute added or modified on a type without an `options.fill`.
    #[snafu(display(
        "option 'fill' of resource attribute {attribute} must not be empty if required"
    ))]
    MissingFill {
        /// The attribute.
        attribute: String,
    },

    /// The attribute is not one of the resource type's (writes and filters; the API renders
    /// `Resource type <type> has no <attribute> attribute`).
    #[snafu(display("resource type {type_name} has no {attribute} attribute"))]
    UnknownAttribute {
        /// The resource type.
        type_name: String,
        /// The attribute or filter field.
        attribute: String,
    },

    /// A value of the wrong type for an attribute (or a fill value).
    #[snafu(display("invalid value for attribute {attribute} of resource type {type_name}"))]
    InvalidAttributeValue {
        /// The resource type.
        type_name: String,
        /// The attribute.
        attribute: String,
    },

    /// A required attribute was not given at resource creation.
    #[snafu(display("required attribute {attribute} of resource type {type_name} is missing"))]
    MissingRequiredAttribute {
        /// The resource type.
        type_name: String,
        /// The attribute.
        attribute: String,
    },

    /// `started_at` after `ended_at` at creation (`Start timestamp cannot be after end
    /// timestamp`).
    #[snafu(display("start timestamp cannot be after end timestamp"))]
    StartAfterEnd,

    /// A PATCH would leave `ended_at` before `started_at` (api.md §9.4).
    #[snafu(display(
        "value {ended_at} for attribute ended_at on resource type {type_name} is invalid"
    ))]
    InvalidEndedAt {
        /// The resource's type.
        type_name: String,
        /// The rejected end.
        ended_at: chrono::DateTime<chrono::Utc>,
    },

    /// A filter value that cannot be converted to its field's type (api.md §10.2), or an
    /// operator a pseudo-field does not support (§10.3). The API renders
    /// ``Invalid value: `<value>' for field `<field>'``.
    #[snafu(display("invalid value {value} for field {field}"))]
    InvalidFilterValue {
        /// The field.
        field: String,
        /// The value as given.
        value: serde_json::Value,
    },

    /// The sort key is not a column of the listed model (api.md §1.10).
    #[snafu(display("invalid pagination: sort key supplied is invalid: {key}"))]
    InvalidSortKey {
        /// The key as given.
        key: String,
    },

    /// The sort direction is not one of `asc`, `desc` and their `-nullsfirst`/`-nullslast`
    /// variants.
    #[snafu(display("invalid pagination: unknown sort direction {direction}"))]
    InvalidSortDirection {
        /// The direction as given.
        direction: String,
    },

    /// The marker names no row of the listed model.
    #[snafu(display("invalid pagination: invalid marker {marker}"))]
    InvalidMarker {
        /// The marker as given.
        marker: String,
    },
}

/// The indexer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The transport-neutral classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidUrl { .. } | Error::UnsupportedScheme { .. } => ErrorKind::Invalid,
            Error::Connect { .. } => ErrorKind::Unavailable,
            Error::Migrate { .. } | Error::CorruptRow { .. } => ErrorKind::Internal,
            Error::Query { source, .. } => {
                if is_transient(source) {
                    ErrorKind::Unavailable
                } else {
                    ErrorKind::Internal
                }
            }
            Error::ArchivePolicyNotFound { .. }
            | Error::ArchivePolicyRuleNotFound { .. }
            | Error::MetricNotFound { .. }
            | Error::ResourceNotFound { .. }
            | Error::ResourceTypeNotFound { .. } => ErrorKind::NotFound,
            Error::ResourceTypeExists { .. } => ErrorKind::AlreadyExists,
            Error::ResourceTypeInUse { .. } | Error::ResourceTypeNotActive { .. } => {
                ErrorKind::Conflict
            }
            Error::InvalidAttributeName { .. }
            | Error::AttributeTypeChange { .. }
            | Error::MissingFill { .. }
            | Error::UnknownAttribute { .. }
            | Error::InvalidAttributeValue { .. }
            | Error::MissingRequiredAttribute { .. }
            | Error::StartAfterEnd
            | Error::InvalidEndedAt { .. }
            | Error::InvalidFilterValue { .. } => ErrorKind::Invalid,
            Error::ArchivePolicyExists { .. }
            | Error::ArchivePolicyRuleExists { .. }
            | Error::ArchivePolicyRuleRenameExists { .. }
            | Error::MetricExists { .. }
            | Error::NamedMetricExists { .. }
            | Error::ResourceExists { .. } => ErrorKind::AlreadyExists,
            Error::ArchivePolicyInUse { .. } => ErrorKind::Conflict,
            Error::ArchivePolicyGranularitiesAddedOrDropped { .. }
            | Error::ArchivePolicyGranularityChanged { .. }
            | Error::InvalidSortKey { .. }
            | Error::InvalidSortDirection { .. }
            | Error::InvalidMarker { .. } => ErrorKind::Invalid,
        }
    }

    /// Whether retrying the same call later may succeed (metricd retries, the API answers 503).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::Query { source, .. } => is_transient(source),
            Error::InvalidUrl { .. }
            | Error::UnsupportedScheme { .. }
            | Error::Migrate { .. }
            | Error::CorruptRow { .. }
            | Error::ArchivePolicyNotFound { .. }
            | Error::ArchivePolicyExists { .. }
            | Error::ArchivePolicyInUse { .. }
            | Error::ArchivePolicyGranularitiesAddedOrDropped { .. }
            | Error::ArchivePolicyGranularityChanged { .. }
            | Error::ArchivePolicyRuleNotFound { .. }
            | Error::ArchivePolicyRuleExists { .. }
            | Error::ArchivePolicyRuleRenameExists { .. }
            | Error::MetricNotFound { .. }
            | Error::MetricExists { .. }
            | Error::NamedMetricExists { .. }
            | Error::ResourceNotFound { .. }
            | Error::ResourceExists { .. }
            | Error::ResourceTypeNotFound { .. }
            | Error::ResourceTypeExists { .. }
            | Error::ResourceTypeInUse { .. }
            | Error::ResourceTypeNotActive { .. }
            | Error::InvalidAttributeName { .. }
            | Error::AttributeTypeChange { .. }
            | Error::MissingFill { .. }
            | Error::UnknownAttribute { .. }
            | Error::InvalidAttributeValue { .. }
            | Error::MissingRequiredAttribute { .. }
            | Error::StartAfterEnd
            | Error::InvalidEndedAt { .. }
            | Error::InvalidFilterValue { .. }
            | Error::InvalidSortKey { .. }
            | Error::InvalidSortDirection { .. }
            | Error::InvalidMarker { .. } => false,
        }
    }
}

/// Connection-level failures, pool exhaustion and lock timeouts: worth retrying.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => true,
        // SQLite extended codes BUSY (5), BUSY_RECOVERY (261), BUSY_SNAPSHOT (517),
        // BUSY_TIMEOUT (773), LOCKED (6), LOCKED_SHAREDCACHE (262); PostgreSQL serialization
        // failure / deadlock, connection exceptions (08xxx), too many connections, admin or
        // crash shutdown, cannot connect now; MySQL lock wait timeout / deadlock.
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some(
                "5" | "261"
                    | "517"
                    | "773"
                    | "6"
                    | "262"
                    | "40001"
                    | "40P01"
                    | "08000"
                    | "08003"
                    | "08006"
                    | "08001"
                    | "08004"
                    | "53300"
                    | "57P01"
                    | "57P02"
                    | "57P03"
                    | "1205"
                    | "1213"
            )
        ),
        _ => false,
    }
}
