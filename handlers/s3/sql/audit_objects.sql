-- Who changed what in a bucket since a time, from the change journal (S3 -> EventBridge -> Firehose Parquet), with
-- the inventory report telling whether a key's first journalled write replaced a live object.
-- Same rules as restore_plan.sql: DuckDB and Athena (Trino) run it unchanged; only the inventory and journal relations
-- are templated; ? parameters are bound once in `params`.
--
-- action: create (no live object before), overwrite (a live object before), delete (a delete marker, or a version
-- permanently deleted: see deletion_type). Events arrive at least once, so they are de-duplicated.
WITH params AS (
    SELECT CAST(? AS VARCHAR) AS bucket, CAST(? AS VARCHAR) AS prefix, CAST(? AS TIMESTAMP) AS since
),

events AS (
    SELECT *
    FROM (
        SELECT
            j.event_time,
            j.detail_type,
            j.deletion_type,
            j.key,
            coalesce(j.version_id, 'null') AS version_id,
            coalesce(rpad(j.sequencer, 64, '0'), '') AS order_sequencer,
            j.size,
            j.reason,
            j.requester,
            j.source_ip_address,
            j.request_id,
            ROW_NUMBER() OVER (
                PARTITION BY j.key, j.version_id, j.detail_type, coalesce(j.deletion_type, '') ORDER BY j.event_time
            ) AS delivery
        FROM {journal} AS j
        CROSS JOIN params AS p
        WHERE j.bucket = p.bucket AND substr(j.key, 1, length(p.prefix)) = p.prefix
    ) AS delivered
    WHERE delivery = 1
),

-- Every entry that can precede a write: journalled creations and markers, and the report's versions the journal
-- does not name (they predate it).
entries AS (
    SELECT
        key,
        version_id,
        event_time AS written,
        order_sequencer,
        CASE WHEN detail_type = 'Object Deleted' THEN 1 ELSE 0 END AS is_marker,
        1 AS journalled
    FROM events
    WHERE NOT (detail_type = 'Object Deleted' AND deletion_type = 'Permanently Deleted')
    UNION ALL
    SELECT
        i.key,
        coalesce(i.version_id, 'null') AS version_id,
        i.last_modified_date AS written,
        '' AS order_sequencer,
        CASE WHEN i.is_delete_marker THEN 1 ELSE 0 END AS is_marker,
        0 AS journalled
    FROM {inventory} AS i
    CROSS JOIN params AS p
    LEFT JOIN events AS e ON e.key = i.key AND e.version_id = coalesce(i.version_id, 'null')
    WHERE i.bucket = p.bucket AND substr(i.key, 1, length(p.prefix)) = p.prefix AND e.key IS NULL
),

previous AS (
    SELECT
        key,
        version_id,
        journalled,
        LAG(is_marker) OVER (PARTITION BY key ORDER BY order_sequencer, written) AS previous_marker
    FROM entries
)

SELECT
    e.event_time,
    CASE
        WHEN e.detail_type = 'Object Deleted' THEN 'delete'
        WHEN pr.previous_marker = 0 THEN 'overwrite'
        ELSE 'create'
    END AS action,
    e.key,
    e.version_id,
    e.deletion_type,
    e.size,
    e.reason,
    e.requester,
    e.source_ip_address,
    e.request_id
FROM events AS e
CROSS JOIN params AS p
LEFT JOIN previous AS pr ON pr.key = e.key AND pr.version_id = e.version_id AND pr.journalled = 1
WHERE e.event_time >= p.since
ORDER BY e.event_time, e.key, e.order_sequencer
