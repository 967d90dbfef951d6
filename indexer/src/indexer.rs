//! The `Indexer` trait: everything gnocchi-rs keeps in SQL, spoken in domain types.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gnocchi_core::{ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule, Metric, MetricStatus};
use uuid::Uuid;

use crate::error::Result;
use crate::filter::Filter;
use crate::pagination::Page;
use crate::resource_type::{AttributeDefinition, AttributeValue, ResourceType};

/// What the caller supplies to create a metric. The API resolves the archive policy (rules)
/// and the resource id (UUID5 rule) before calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMetric {
    /// The id to create the metric with (the API draws a v4 UUID).
    pub id: Uuid,
    /// The archive policy; must exist.
    pub archive_policy_name: String,
    /// Optional name, unique among the resource's active metrics.
    pub name: Option<String>,
    /// Optional unit.
    pub unit: Option<String>,
    /// The resource to attach to; must exist.
    pub resource_id: Option<Uuid>,
    /// The creator string of the caller (api.md §2.2).
    pub creator: String,
}

/// A metric with what describes it (see [`Indexer::described_metric`]).
#[derive(Debug, Clone)]
pub struct DescribedMetric {
    /// The metric.
    pub metric: Metric,
    /// Its archive policy.
    pub policy: ArchivePolicy,
    /// Its resource, read as the generic type.
    pub resource: Option<Resource>,
}

/// Equality filters of `GET /v1/metric` (api.md §6.3), AND-ed. `None` = no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricFilter {
    /// Exact id.
    pub id: Option<Uuid>,
    /// Exact name.
    pub name: Option<String>,
    /// Exact unit.
    pub unit: Option<String>,
    /// Exact archive policy name.
    pub archive_policy_name: Option<String>,
    /// Exact creator string (the API folds `user_id`/`project_id` into it).
    pub creator: Option<String>,
    /// Attached to this resource.
    pub resource_id: Option<Uuid>,
    /// Listings only ever show active metrics: `Some(Delete)` yields nothing (api.md §6.3).
    pub status: Option<MetricStatus>,
}

/// One metric processed by metricd, for [`Indexer::mark_metrics_processed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessedMetric {
    /// The metric.
    pub id: Uuid,
    /// The newest measure timestamp of the processed batch (ns since the epoch); a resource
    /// whose `ended_at` is at or before it is restored (engine.md §3.3 step 8).
    pub newest_measure_ns: i64,
}

/// What the caller supplies to create a resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewResource {
    /// The stored id (already transformed, api.md §1.9).
    pub id: Uuid,
    /// The id as submitted.
    pub original_resource_id: String,
    /// Resource type name; must exist.
    pub type_name: String,
    /// Creator string of the caller.
    pub creator: Option<String>,
    /// Free-form user id.
    pub user_id: Option<String>,
    /// Free-form project id.
    pub project_id: Option<String>,
    /// Defaults to the creation time.
    pub started_at: Option<DateTime<Utc>>,
    /// End of life, if known.
    pub ended_at: Option<DateTime<Utc>>,
    /// Metrics created with the resource, atomically; their `resource_id` is ignored and set
    /// to `id`.
    pub metrics: Vec<NewMetric>,
    /// Existing active metrics to attach under a name (api.md §9.2 "UUID string" specs); each
    /// must belong to `creator`, else `MetricNotFound`.
    pub linked_metrics: BTreeMap<String, Uuid>,
    /// Values of the type's attributes (validated by the API); absent optional ones are NULL,
    /// an absent required one is `MissingRequiredAttribute`.
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// The metric set given to a PATCH (api.md §9.4) or an append (§9.8).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSet {
    /// Metrics to create and attach (their `resource_id` is ignored).
    pub created: Vec<NewMetric>,
    /// Existing active metrics of the resource's creator to attach (and rename) under a name.
    pub linked: BTreeMap<String, Uuid>,
}

/// A PATCH of a resource (api.md §9.4). `None` = leave as is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceUpdate {
    /// New user id (`Some(None)` clears it).
    pub user_id: Option<Option<String>>,
    /// New project id (`Some(None)` clears it).
    pub project_id: Option<Option<String>>,
    /// New start.
    pub started_at: Option<DateTime<Utc>>,
    /// New end (`Some(None)` clears it).
    pub ended_at: Option<Option<DateTime<Utc>>>,
    /// New values of some of the type's attributes.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Replaces the resource's metric set: every attached active metric is detached, then
    /// these are attached. Never creates a revision.
    pub metrics: Option<MetricSet>,
}

/// A resource listing or search (api.md §9.6, §10.1).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceQuery {
    /// The type listed; `generic` lists resources of every type with generic columns only.
    pub type_name: String,
    /// The search filter (the API ANDs its visibility filter, §2.6, into it); `None` for all.
    pub filter: Option<Filter>,
    /// Every revision instead of current ones only (§10.4).
    pub history: bool,
    /// On a `generic` listing, fill each resource's own type's attributes (`details=true`).
    pub details: bool,
    /// Sort (default `revision_start`, `started_at`, then `id`, and `revision` in history),
    /// marker (`<id>` or, in history, `<id>@<revision>`) and limit.
    pub page: Page,
}

impl ResourceQuery {
    /// Current resources of `type_name`, default order, no limit.
    pub fn all(type_name: &str) -> Self {
        Self {
            type_name: type_name.to_owned(),
            filter: None,
            history: false,
            details: false,
            page: Page::default(),
        }
    }
}

/// A resource's generic columns, current revision, with its active metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Stored id.
    pub id: Uuid,
    /// The id as submitted.
    pub original_resource_id: String,
    /// Resource type name.
    pub type_name: String,
    /// Creator string.
    pub creator: Option<String>,
    /// Free-form user id.
    pub user_id: Option<String>,
    /// Free-form project id.
    pub project_id: Option<String>,
    /// Start of life.
    pub started_at: DateTime<Utc>,
    /// End of life.
    pub ended_at: Option<DateTime<Utc>>,
    /// When this revision began.
    pub revision_start: DateTime<Utc>,
    /// `None` for the current revision.
    pub revision_end: Option<DateTime<Utc>>,
    /// Metric name → id of the resource's active named metrics (the current set, also on
    /// history rows).
    pub metrics: BTreeMap<String, Uuid>,
    /// `-1` for the current revision, else the history row's database-wide revision number
    /// (api.md §1.10 markers `<id>@<revision>`).
    pub revision: i64,
    /// The type's attribute values of this revision; empty in generic views.
    pub attributes: BTreeMap<String, AttributeValue>,
}

impl Resource {
    /// The pagination marker of this item: `<id>` for current listings, `<id>@<revision>` for
    /// history listings.
    pub fn marker(&self, history: bool) -> String {
        if history {
            format!("{}@{}", self.id, self.revision)
        } else {
            self.id.to_string()
        }
    }
}

/// The indexer: archive policies, rules, metrics, resource types and resources, stored in SQL.
///
/// Every backend behaves identically; the contract suite in `tests/it` pins the behaviour.
#[async_trait]
pub trait Indexer: Send + Sync {
    /// Health probe: one trivial round-trip to the database.
    async fn check(&self) -> Result<()>;

    /// Creates or migrates the schema (including the `generic` resource type). Idempotent.
    async fn upgrade(&self) -> Result<()>;

    /// True when there is no archive policy and no rule (gnocchi-upgrade then creates the
    /// defaults, engine.md §2.1 step 4).
    async fn is_pristine(&self) -> Result<bool>;

    // --- archive policies (api.md §4) ---

    /// Stores a new policy. `ArchivePolicyExists` if the name is taken.
    async fn create_archive_policy(&self, policy: &ArchivePolicy) -> Result<()>;

    /// The policy named `name`, or `ArchivePolicyNotFound`.
    async fn archive_policy(&self, name: &str) -> Result<ArchivePolicy>;

    /// Every policy, sorted by name.
    async fn list_archive_policies(&self) -> Result<Vec<ArchivePolicy>>;

    /// Replaces the definition (same granularities, only points/timespan may change) and,
    /// if given, the back window. A smaller back window flags the policy's metrics for raw
    /// buffer truncation. Errors: `ArchivePolicyNotFound`,
    /// `ArchivePolicyGranularitiesAddedOrDropped`, `ArchivePolicyGranularityChanged`.
    async fn update_archive_policy(
        &self,
        name: &str,
        definition: &[ArchivePolicyItem],
        back_window: Option<u64>,
    ) -> Result<ArchivePolicy>;

    /// Deletes a policy. `ArchivePolicyNotFound`, or `ArchivePolicyInUse` while any metric row
    /// (even one awaiting expunge) or any rule references it.
    async fn delete_archive_policy(&self, name: &str) -> Result<()>;

    // --- archive policy rules (api.md §5) ---

    /// Stores a rule. `ArchivePolicyRuleExists`, or `ArchivePolicyNotFound` for its policy.
    async fn create_archive_policy_rule(&self, rule: &ArchivePolicyRule) -> Result<()>;

    /// The rule named `name`, or `ArchivePolicyRuleNotFound`.
    async fn archive_policy_rule(&self, name: &str) -> Result<ArchivePolicyRule>;

    /// Every rule in matching order: pattern descending by bytes, then name ascending. This is
    /// also the order `GET /v1/archive_policy_rule` lists them in (api.md §5.2).
    async fn list_archive_policy_rules(&self) -> Result<Vec<ArchivePolicyRule>>;

    /// Renames a rule. `ArchivePolicyRuleNotFound`, or `ArchivePolicyRuleRenameExists` when
    /// `new_name` is taken.
    async fn rename_archive_policy_rule(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<ArchivePolicyRule>;

    /// Deletes a rule, or `ArchivePolicyRuleNotFound`.
    async fn delete_archive_policy_rule(&self, name: &str) -> Result<()>;

    /// The policy of the first rule (in matching order) whose pattern matches `name` (`None`
    /// is matched as the empty string); `None` when no rule matches (engine.md §1.4).
    async fn archive_policy_for_metric_name(
        &self,
        name: Option<&str>,
    ) -> Result<Option<ArchivePolicy>> {
        let wanted = name.unwrap_or("");
        for rule in self.list_archive_policy_rules().await? {
            if crate::fnmatch::fnmatch(wanted, &rule.metric_pattern) {
                return self
                    .archive_policy(&rule.archive_policy_name)
                    .await
                    .map(Some);
            }
        }
        Ok(None)
    }

    // --- metrics (api.md §6) ---

    /// Creates an active metric needing raw-data truncation and never processed. Errors:
    /// `ArchivePolicyNotFound`, `ResourceNotFound`, `NamedMetricExists`, `MetricExists`.
    async fn create_metric(&self, metric: &NewMetric) -> Result<Metric>;

    /// The active metric `id`, or `MetricNotFound`.
    async fn metric(&self, id: Uuid) -> Result<Metric>;

    /// The active metric `id` with its archive policy and its resource (`None` without one or
    /// when it is gone): what a read of its measures needs, on one connection.
    async fn described_metric(&self, id: Uuid) -> Result<DescribedMetric>;

    /// The active metrics among `ids`, in id order; unknown or deleted ids are left out.
    async fn metrics_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Metric>>;

    /// The active metric named `name` on resource `resource_id`, if any (api.md §6.8).
    async fn resource_metric(&self, resource_id: Uuid, name: &str) -> Result<Option<Metric>>;

    /// Active metrics matching `filter`, sorted and paginated (api.md §1.10, §6.3). Sort keys:
    /// `id`, `archive_policy_name`, `creator`, `resource_id`, `name`, `unit`, `status`,
    /// `needs_raw_data_truncation`, `last_measure_timestamp`; `id` is the tie-breaker and the
    /// marker. Errors: `InvalidSortKey`, `InvalidMarker`.
    async fn list_metrics(&self, filter: &MetricFilter, page: &Page) -> Result<Vec<Metric>>;

    /// Marks an active metric deleted and detaches it from its resource, or `MetricNotFound`.
    async fn delete_metric(&self, id: Uuid) -> Result<()>;

    /// Up to `limit` metrics with status `delete`, for the janitor (engine.md §5.7 step 1).
    async fn list_deleted_metrics(&self, limit: u64) -> Result<Vec<Metric>>;

    /// Removes a metric row for good (after its measures are gone). Unknown ids are ignored, so
    /// two janitors may race.
    async fn expunge_metric(&self, id: Uuid) -> Result<()>;

    /// Up to `limit` active metrics whose raw buffer must be re-cut (engine.md §5.7 step 2).
    async fn list_metrics_needing_raw_truncation(&self, limit: u64) -> Result<Vec<Metric>>;

    /// Records metricd's processing of a batch of metrics in one transaction (engine.md §3.3
    /// step 8): clears `needs_raw_data_truncation`, sets `last_measure_timestamp` to now and
    /// restores (ends_at = NULL) each attached resource ended at or before the newest measure.
    /// Metrics that vanished meanwhile are skipped.
    async fn mark_metrics_processed(&self, processed: &[ProcessedMetric]) -> Result<()>;

    // --- resource types and resources (api.md §8, §9) ---

    /// The resource type `name`, or `ResourceTypeNotFound`.
    async fn resource_type(&self, name: &str) -> Result<ResourceType>;

    /// Every resource type, sorted by name.
    async fn list_resource_types(&self) -> Result<Vec<ResourceType>>;

    /// Creates a resource, its attribute row, its new metrics and its linked metrics in one
    /// transaction; returns the typed view. Errors: `ResourceTypeNotFound`,
    /// `ResourceTypeNotActive`, `UnknownAttribute`, `InvalidAttributeValue`,
    /// `MissingRequiredAttribute`, `StartAfterEnd`, `ResourceExists` (the id exists in any
    /// type; of concurrent creations exactly one wins), `MetricNotFound` (a linked metric),
    /// and `create_metric`'s errors.
    async fn create_resource(&self, resource: &NewResource) -> Result<Resource>;

    /// The resource `id`, restricted to `type_name` when given (a resource of another type is
    /// `ResourceNotFound`). With a type other than `generic`, its attributes are filled.
    async fn resource(&self, type_name: Option<&str>, id: Uuid) -> Result<Resource>;

    /// Creates a resource type with its attribute tables, `active`. Errors:
    /// `ResourceTypeExists`, `InvalidAttributeName`.
    async fn create_resource_type(
        &self,
        name: &str,
        attributes: &BTreeMap<String, AttributeDefinition>,
    ) -> Result<ResourceType>;

    /// Replaces the attribute map of a type with `attributes`, the result of the API's JSON
    /// Patch (api.md §8.5): added attributes get a column filled with their `fill` (or NULL)
    /// in current and history rows; removed ones are dropped; modified ones keep their type
    /// (`AttributeTypeChange`) and, with a `fill`, get NULLs replaced by it. Errors:
    /// `ResourceTypeNotFound`, `MissingFill` (a required added/modified attribute without
    /// fill), `InvalidAttributeValue` (a fill of the wrong type), `InvalidAttributeName`.
    async fn update_resource_type(
        &self,
        name: &str,
        attributes: &BTreeMap<String, AttributeDefinition>,
    ) -> Result<ResourceType>;

    /// Deletes a type and its tables. `ResourceTypeNotFound`, or `ResourceTypeInUse` while a
    /// resource of it exists, and always for `generic`.
    async fn delete_resource_type(&self, name: &str) -> Result<()>;

    /// Updates a resource (api.md §9.4), restricted to `type_name` when given. A new revision
    /// (the old state saved to history with `revision_end` = now) only when a value really
    /// changes; `metrics` replaces the metric set without a revision. Atomic. Errors:
    /// `ResourceNotFound`, `ResourceTypeNotActive`, `UnknownAttribute`,
    /// `InvalidAttributeValue`, `InvalidEndedAt`, and the metric errors of creation.
    async fn update_resource(
        &self,
        type_name: Option<&str>,
        id: Uuid,
        update: &ResourceUpdate,
    ) -> Result<Resource>;

    /// Deletes a resource (of `type_name` when given) with its history; its metrics are marked
    /// deleted. `ResourceNotFound`.
    async fn delete_resource(&self, type_name: Option<&str>, id: Uuid) -> Result<()>;

    /// Lists or searches resources (api.md §9.6, §10). Errors: `ResourceTypeNotFound`,
    /// `UnknownAttribute` (filter field), `InvalidFilterValue`, `InvalidSortKey`,
    /// `InvalidMarker`.
    async fn list_resources(&self, query: &ResourceQuery) -> Result<Vec<Resource>>;

    /// Every revision of one resource of `type_name` (api.md §9.7), oldest first by default;
    /// `page` as in history listings. `ResourceNotFound`.
    async fn resource_history(
        &self,
        type_name: &str,
        id: Uuid,
        page: &Page,
    ) -> Result<Vec<Resource>> {
        self.resource(Some(type_name), id).await?;
        self.list_resources(&ResourceQuery {
            type_name: type_name.to_owned(),
            filter: Some(Filter::eq("id", id.to_string())),
            history: true,
            details: false,
            page: page.clone(),
        })
        .await
    }

    /// The current resources among `ids` (any type, generic view, with their metrics), sorted
    /// by id; unknown ids are left out. For the batch ingestion path (api.md §7.2), which needs
    /// to know in one go which resources exist and which named metrics they have.
    async fn resources_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Resource>> {
        let mut out = Vec::with_capacity(ids.len());
        // Bounded IN lists stay under every backend's bind limit.
        for chunk in ids.chunks(500) {
            let values = chunk
                .iter()
                .map(|id| serde_json::Value::String(id.to_string()))
                .collect();
            out.extend(
                self.list_resources(&ResourceQuery {
                    filter: Some(Filter::In {
                        field: "id".to_owned(),
                        values,
                    }),
                    page: Page {
                        sort: vec![crate::pagination::SortKey::asc("id")],
                        ..Page::default()
                    },
                    ..ResourceQuery::all("generic")
                })
                .await?,
            );
        }
        out.sort_by_key(|r| r.id);
        out.dedup_by_key(|r| r.id);
        Ok(out)
    }

    /// Deletes the current resources of `type_name` (all types for `generic`) matching
    /// `filter`, with their history; their metrics are marked deleted. Returns the count.
    async fn delete_resources(&self, type_name: &str, filter: &Filter) -> Result<u64>;

    /// Attaches metrics to a resource without touching the others and without a revision
    /// (api.md §9.8 POST); returns all its active metrics, by id. Errors: `ResourceNotFound`,
    /// `NamedMetricExists`, `MetricNotFound` (a linked metric unknown or of another creator),
    /// and `create_metric`'s.
    async fn append_resource_metrics(&self, id: Uuid, metrics: &MetricSet) -> Result<Vec<Metric>>;
}
