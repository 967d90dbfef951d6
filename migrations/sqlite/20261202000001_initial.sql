-- gnocchi-rs indexer schema, SQLite flavour (the PostgreSQL and MariaDB folders mirror it).
--
-- Conventions: UUIDs are lowercase hyphenated TEXT; timestamps are INTEGER microseconds since
-- the Unix epoch (UTC); JSON documents are TEXT. Every lookup the API does by name or id is a
-- primary key or a unique index.

CREATE TABLE archive_policy (
    name TEXT NOT NULL PRIMARY KEY,
    back_window INTEGER NOT NULL CHECK (back_window >= 0),
    -- JSON array of {"granularity_ns": int, "points": int|null}, in submission order.
    definition TEXT NOT NULL,
    -- JSON array of resolved aggregation method names.
    aggregation_methods TEXT NOT NULL
);

CREATE TABLE archive_policy_rule (
    name TEXT NOT NULL PRIMARY KEY,
    metric_pattern TEXT NOT NULL,
    archive_policy_name TEXT NOT NULL
        REFERENCES archive_policy (name) ON DELETE RESTRICT ON UPDATE RESTRICT
);

CREATE INDEX ix_archive_policy_rule_policy ON archive_policy_rule (archive_policy_name);

-- Resource types. Each non-generic type gets its attribute tables `rt_<tablename>` (current
-- revision) and `rt_<tablename>_history` (past revisions), keyed by the resource id / revision,
-- created when the type is created (later issue).
CREATE TABLE resource_type (
    name TEXT NOT NULL PRIMARY KEY,
    tablename TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('creating', 'active', 'creation_error', 'deleting',
                                         'deletion_error', 'updating', 'updating_error')),
    -- JSON object: attribute name -> definition (api.md §8.2).
    attributes TEXT NOT NULL
);

INSERT INTO resource_type (name, tablename, state, attributes)
VALUES ('generic', 'generic', 'active', '{}');

-- Generic columns of every resource, current revision.
CREATE TABLE resource (
    id TEXT NOT NULL PRIMARY KEY,
    type TEXT NOT NULL REFERENCES resource_type (name) ON DELETE RESTRICT ON UPDATE RESTRICT,
    original_resource_id TEXT NOT NULL,
    creator TEXT,
    user_id TEXT,
    project_id TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    revision_start INTEGER NOT NULL
);

CREATE INDEX ix_resource_type ON resource (type);

-- Past revisions of resources. `revision` is one database-wide counter starting at 1
-- (api.md §1.10: markers `<id>@<revision>`).
CREATE TABLE resource_history (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL REFERENCES resource (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    original_resource_id TEXT NOT NULL,
    creator TEXT,
    user_id TEXT,
    project_id TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    revision_start INTEGER NOT NULL,
    revision_end INTEGER NOT NULL
);

CREATE INDEX ix_resource_history_id ON resource_history (id);

CREATE TABLE metric (
    id TEXT NOT NULL PRIMARY KEY,
    archive_policy_name TEXT NOT NULL
        REFERENCES archive_policy (name) ON DELETE RESTRICT ON UPDATE RESTRICT,
    creator TEXT NOT NULL,
    -- Deleted metrics are detached (resource_id NULL), so this plain unique constraint gives
    -- "one active metric per (resource, name)" (api.md §6.9); NULLs never collide.
    resource_id TEXT REFERENCES resource (id) ON DELETE SET NULL,
    name TEXT,
    unit TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'delete')),
    needs_raw_data_truncation INTEGER NOT NULL DEFAULT 1,
    last_measure_timestamp INTEGER,
    CONSTRAINT uniq_metric_resource_name UNIQUE (resource_id, name)
);

CREATE INDEX ix_metric_status ON metric (status);
CREATE INDEX ix_metric_archive_policy_name ON metric (archive_policy_name);
