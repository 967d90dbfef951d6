-- Indexes for resource searches (issue 11): equality on the generic project_id / user_id
-- columns, and the default listing order (revision_start, started_at, id), so a filtered
-- search with a limit walks rows in order and stops early instead of sorting every match.
CREATE INDEX ix_resource_project_id ON resource (project_id);
CREATE INDEX ix_resource_user_id ON resource (user_id);
CREATE INDEX ix_resource_default_order ON resource (revision_start, started_at, id);
