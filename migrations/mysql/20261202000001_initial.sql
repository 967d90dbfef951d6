-- gnocchi-rs indexer schema, MariaDB/MySQL flavour: the same tables, columns and
-- representations as migrations/sqlite, so every backend shares its statements and row decoding.
--
-- Conventions: UUIDs are lowercase hyphenated text; timestamps are BIGINT microseconds since
-- the Unix epoch (UTC); JSON documents are TEXT; flags are BIGINT 0/1. Every text column is
-- utf8mb4 under utf8mb4_nopad_bin: equality and ORDER BY are byte-wise with no trailing-space
-- padding, exactly as SQLite's BINARY and PostgreSQL's "C" collations (the indexer decodes
-- these BINARY-flagged columns through `crate::text::Text`).
-- Indexed text columns are VARCHARs (InnoDB keys are limited to 3072 bytes); the others TEXT.
-- MariaDB >= 10.5 is required (INSERT … RETURNING); Debian 12 ships 10.11.

CREATE TABLE archive_policy (
    name VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    back_window BIGINT NOT NULL CHECK (back_window >= 0),
    -- JSON array of {"granularity_ns": int, "points": int|null}, in submission order.
    definition TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    -- JSON array of resolved aggregation method names.
    aggregation_methods TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE archive_policy_rule (
    name VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    metric_pattern TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    archive_policy_name VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    INDEX ix_archive_policy_rule_policy (archive_policy_name),
    FOREIGN KEY (archive_policy_name) REFERENCES archive_policy (name)
        ON DELETE RESTRICT ON UPDATE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- Resource types. Each non-generic type gets its attribute tables `<tablename>` (current
-- revision) and `<tablename>_history` (past revisions), created with the type.
CREATE TABLE resource_type (
    name VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    tablename VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL UNIQUE,
    state VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL
        CHECK (state IN ('creating', 'active', 'creation_error', 'deleting', 'deletion_error',
                         'updating', 'updating_error')),
    -- JSON object: attribute name -> definition (api.md §8.2).
    attributes TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

INSERT INTO resource_type (name, tablename, state, attributes)
VALUES ('generic', 'generic', 'active', '{}');

-- Generic columns of every resource, current revision.
CREATE TABLE resource (
    id VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    type VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    original_resource_id TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    creator TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    user_id TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    project_id TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    revision_start BIGINT NOT NULL,
    INDEX ix_resource_type (type),
    FOREIGN KEY (type) REFERENCES resource_type (name) ON DELETE RESTRICT ON UPDATE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- Past revisions of resources. `revision` is one database-wide counter starting at 1
-- (api.md §1.10: markers `<id>@<revision>`).
CREATE TABLE resource_history (
    revision BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    type VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    original_resource_id TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    creator TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    user_id TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    project_id TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    revision_start BIGINT NOT NULL,
    revision_end BIGINT NOT NULL,
    INDEX ix_resource_history_id (id),
    FOREIGN KEY (id) REFERENCES resource (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE metric (
    id VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    archive_policy_name VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    creator TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    -- Deleted metrics are detached (resource_id NULL), so this plain unique key gives "one
    -- active metric per (resource, name)" (api.md §6.9); NULLs never collide.
    resource_id VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    name VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    unit TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    status VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'delete')),
    needs_raw_data_truncation BIGINT NOT NULL DEFAULT 1,
    last_measure_timestamp BIGINT,
    CONSTRAINT uniq_metric_resource_name UNIQUE (resource_id, name),
    INDEX ix_metric_status (status),
    INDEX ix_metric_archive_policy_name (archive_policy_name),
    INDEX ix_metric_resource_id (resource_id),
    FOREIGN KEY (archive_policy_name) REFERENCES archive_policy (name)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    FOREIGN KEY (resource_id) REFERENCES resource (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- One row, locked FOR UPDATE by every write transaction: writers serialise as under SQLite's
-- BEGIN IMMEDIATE; the lock ends with the transaction (commit, rollback or a lost connection).
CREATE TABLE write_lock (
    id BIGINT NOT NULL PRIMARY KEY
) ENGINE=InnoDB;

INSERT INTO write_lock (id) VALUES (1);
