-- Without statistics SQLite takes an equality on any indexed column as selective, so with
-- ix_metric_status it answered `status = 'active' AND id IN (...)` and
-- `status = 'active' AND resource_id IN (...)` by walking every active metric instead of the
-- primary key or (resource_id, name). Only the janitor's and the truncation pass's rare states
-- are worth an index: partial ones, which a query on active metrics cannot pick.
DROP INDEX ix_metric_status;
CREATE INDEX ix_metric_deleted ON metric (id) WHERE status = 'delete';
CREATE INDEX ix_metric_needs_truncation ON metric (id) WHERE needs_raw_data_truncation = 1;
