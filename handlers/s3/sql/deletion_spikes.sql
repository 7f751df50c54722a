-- Deletion spikes: objects deleted per 5-minute window (the period of the DeleteRequests anomaly alarm on tier-1
-- primaries, components/buckets.py), with the requesters behind them. The alarm counts requests (one
-- DeleteObjects request deletes up to 1,000 objects) and cannot say who; this counts objects and names them.
-- DuckDB and Athena run it unchanged (only the journal relation is templated); saved in the stack's Athena workgroup.
WITH params AS (
    SELECT CAST(? AS VARCHAR) AS bucket, CAST(? AS TIMESTAMP) AS since, CAST(? AS BIGINT) AS min_deletes
),

deletes AS (
    SELECT DISTINCT
        j.key,
        j.version_id,
        j.deletion_type,
        j.requester,
        date_trunc('minute', j.event_time) - (minute(j.event_time) % 5) * INTERVAL '1' MINUTE AS window_start
    FROM {journal} AS j
    CROSS JOIN params AS p
    WHERE j.bucket = p.bucket AND j.detail_type = 'Object Deleted' AND j.event_time >= p.since
)

SELECT
    d.window_start,
    count(*) AS deleted_objects,
    count(DISTINCT d.requester) AS requesters,
    max(d.requester) AS a_requester,
    sum(CASE WHEN d.deletion_type = 'Permanently Deleted' THEN 1 ELSE 0 END) AS permanently_deleted
FROM deletes AS d
CROSS JOIN params AS p
GROUP BY d.window_start, p.min_deletes
HAVING count(*) >= p.min_deletes
ORDER BY deleted_objects DESC, d.window_start
