-- Point-in-time restore plan over S3 Inventory ∪ change journal: one row per key under the prefix.
--
-- Run unchanged by DuckDB (drctl, locally) and by Athena (Trino) on AWS, so it keeps to their common subset:
-- no QUALIFY (a ROW_NUMBER() subquery instead), no named WINDOW clause, positional ? parameters bound once in
-- `params`, and only the two FROM relations are templated (inventory and journal; handlers/s3/inventory.py).
--
-- inventory: one S3 Inventory report (IncludedObjectVersions=All, Parquet): bucket, key, version_id,
--              is_delete_marker, size, last_modified_date, e_tag, storage_class, checksum_algorithm.
-- journal:   S3 -> EventBridge object events, flattened by the rule's input transformer and written by Firehose as
--              Parquet: event_time, detail_type, bucket, key, version_id, sequencer, size, etag, deletion_type.
--
-- Decisions, the same as handlers/s3/restore.py (plan_make_current, plan_copy_elsewhere):
--   wanted = the newest entry at or before T (a data version, a delete marker, or none)
--   absent/marker at T      -> skip, or delete (plain, adds a marker) when asked, unless the key is deleted already
--   in place, already as T  -> skip (current version id = wanted version id)
--   only markers above T    -> undelete (remove those markers) where the bucket allows versioned deletes
--   otherwise               -> copy the wanted version over the key; maybe_same when the listing could not tell
-- Order of a key's entries: the journal's sequencer where the version has one (every version since the report's
-- creationTimestamp minus the margin does), then LastModified. Two entries with equal LastModified and no
-- sequencer to order them, and journal-only entries whose event time is too close to T to be sure which side
-- they fall on, set `relist`: drctl plans those keys from a listing of the key (a bounded listing).
WITH params AS (
    SELECT
        CAST(? AS VARCHAR) AS bucket,
        CAST(? AS VARCHAR) AS prefix,
        -- One range of keys, [key_from, key_to) ('' = open): DuckDB plans a large bucket range by range so that each
        -- fits its memory limit; Athena plans the whole prefix at once ('', '').
        CAST(? AS VARCHAR) AS key_from,
        CAST(? AS VARCHAR) AS key_to,
        CAST(? AS TIMESTAMP) AS restore_at,
        CAST(? AS TIMESTAMP) AS journal_since,
        CAST(? AS TIMESTAMP) AS uncertain_from,
        CAST(? AS TIMESTAMP) AS uncertain_to,
        CAST(? AS TIMESTAMP) AS settle_from,
        CAST(? AS BOOLEAN) AS in_place,
        CAST(? AS BOOLEAN) AS undelete_allowed,
        CAST(? AS BOOLEAN) AS delete_unwanted,
        CAST(? AS BOOLEAN) AS etags_are_md5
),

inventory_rows AS (
    SELECT
        i.key,
        coalesce(i.version_id, 'null') AS version_id,
        CASE WHEN i.is_delete_marker THEN 1 ELSE 0 END AS is_marker,
        coalesce(i.size, 0) AS size,
        i.last_modified_date AS last_modified,
        coalesce(i.e_tag, '') AS etag,
        coalesce(i.storage_class, 'STANDARD') AS storage_class,
        i.checksum_algorithm
    FROM {inventory} AS i
    CROSS JOIN params AS p
    WHERE i.bucket = p.bucket AND substr(i.key, 1, length(p.prefix)) = p.prefix
        AND i.key >= p.key_from AND (p.key_to = '' OR i.key < p.key_to)
),

journal_events AS (
    SELECT
        j.key,
        coalesce(j.version_id, 'null') AS version_id,
        j.event_time,
        j.sequencer,
        j.size,
        j.etag,
        CASE
            WHEN j.detail_type = 'Object Created' THEN 'created'
            WHEN j.detail_type = 'Object Deleted' AND j.deletion_type = 'Delete Marker Created' THEN 'marker'
            WHEN j.detail_type = 'Object Deleted' AND j.deletion_type = 'Permanently Deleted' THEN 'removed'
            ELSE 'other'
        END AS change,
        CASE WHEN j.event_time >= p.settle_from THEN 1 ELSE 0 END AS recent
    FROM {journal} AS j
    CROSS JOIN params AS p
    WHERE j.bucket = p.bucket AND substr(j.key, 1, length(p.prefix)) = p.prefix AND j.event_time >= p.journal_since
        AND j.key >= p.key_from AND (p.key_to = '' OR j.key < p.key_to)
),

-- One row per version the journal names: events arrive at least once, so they are de-duplicated by version id.
journal_versions AS (
    SELECT
        key,
        version_id,
        max(CASE WHEN change = 'marker' THEN 1 ELSE 0 END) AS is_marker,
        max(CASE WHEN change IN ('created', 'marker') THEN 1 ELSE 0 END) AS created,
        max(CASE WHEN change = 'removed' THEN 1 ELSE 0 END) AS removed,
        min(CASE WHEN change IN ('created', 'marker') THEN event_time END) AS created_at,
        max(CASE WHEN change IN ('created', 'marker') THEN sequencer END) AS sequencer,
        max(CASE WHEN change = 'created' THEN size END) AS size,
        max(CASE WHEN change = 'created' THEN etag END) AS etag,
        max(recent) AS recent
    FROM journal_events
    GROUP BY key, version_id
),

-- Inventory rows joined with what the journal says of the same version (its sequencer; removed since), and the
-- versions created since the report, known from the journal only: their time is the event's (LastModified is not
-- in the event) and their storage class unknown (NULL) until drctl reads it.
entries AS (
    SELECT
        coalesce(i.key, j.key) AS key,
        coalesce(i.version_id, j.version_id) AS version_id,
        coalesce(i.is_marker, j.is_marker) AS is_marker,
        coalesce(i.size, j.size, 0) AS size,
        coalesce(i.last_modified, j.created_at) AS last_modified,
        coalesce(i.etag, j.etag, '') AS etag,
        i.storage_class,
        i.checksum_algorithm,
        j.sequencer,
        CASE WHEN i.key IS NULL THEN 1 ELSE 0 END AS journal_only,
        coalesce(j.recent, 0) AS recent
    FROM inventory_rows AS i
    FULL OUTER JOIN journal_versions AS j ON j.key = i.key AND j.version_id = i.version_id
    WHERE coalesce(j.removed, 0) = 0 AND (i.key IS NOT NULL OR j.created = 1)
),

-- One sort: every window below shares its partition and order. Entries are ordered newest first; for every key
-- that is not listed again, LastModified falls along that order, so "after T" is simply LastModified > T and the
-- wanted entry is the first at or before T.
ranked AS (
    SELECT
        e.*,
        ROW_NUMBER() OVER (PARTITION BY e.key ORDER BY e.order_sequencer DESC, e.last_modified DESC) AS newest,
        LAG(e.last_modified) OVER (
            PARTITION BY e.key ORDER BY e.order_sequencer DESC, e.last_modified DESC
        ) AS newer_modified,
        LAG(e.order_sequencer) OVER (
            PARTITION BY e.key ORDER BY e.order_sequencer DESC, e.last_modified DESC
        ) AS newer_sequencer
    FROM (
        -- Sequencers of one key compare as hex strings once right-padded with zeros to one length; a version
        -- with one is newer than every version without (those predate the journal).
        SELECT entries.*, coalesce(rpad(entries.sequencer, 32, '0'), '') AS order_sequencer FROM entries
    ) AS e
),

per_key AS (
    SELECT
        r.key,
        count(*) AS versions,
        min(r.last_modified) AS first_modified,
        max(CASE WHEN r.newest = 1 THEN r.version_id END) AS current_version,
        max(CASE WHEN r.newest = 1 THEN r.is_marker END) AS current_marker,
        max(CASE WHEN r.newest = 1 THEN r.size END) AS current_size,
        max(CASE WHEN r.newest = 1 THEN r.storage_class END) AS current_class,
        max(CASE WHEN r.newest = 1 THEN r.etag END) AS current_etag,
        max(CASE WHEN r.newest = 1 THEN r.last_modified END) AS current_modified,
        max(r.wanted) AS has_wanted,
        max(CASE WHEN r.wanted = 1 THEN r.version_id END) AS wanted_version,
        max(CASE WHEN r.wanted = 1 THEN r.is_marker END) AS wanted_marker,
        max(CASE WHEN r.wanted = 1 THEN r.size END) AS wanted_size,
        max(CASE WHEN r.wanted = 1 THEN r.storage_class END) AS wanted_class,
        max(CASE WHEN r.wanted = 1 THEN r.etag END) AS wanted_etag,
        max(CASE WHEN r.wanted = 1 THEN r.last_modified END) AS wanted_modified,
        max(CASE WHEN r.wanted = 1 THEN r.checksum_algorithm END) AS wanted_checksum,
        max(CASE WHEN r.wanted = 1 THEN r.journal_only END) AS wanted_journal_only,
        sum(CASE WHEN r.after = 1 AND r.is_marker = 0 THEN 1 ELSE 0 END) AS data_after,
        array_agg(r.version_id) FILTER (WHERE r.after = 1 AND r.is_marker = 1) AS markers,
        max(
            CASE
                -- equal LastModified and no sequencers to order them
                WHEN r.order_sequencer = '' AND r.newer_sequencer = '' AND r.newer_modified = r.last_modified THEN 1
                -- LastModified against the order (an event missing from the journal)
                WHEN r.newer_modified < r.last_modified THEN 1
                -- a time that cannot place a journal-only version for certain on one side of T
                WHEN r.journal_only = 1 AND r.last_modified BETWEEN p.uncertain_from AND p.uncertain_to THEN 1
                -- events that may still have siblings in flight
                WHEN r.recent = 1 THEN 1
                ELSE 0
            END
        ) AS relist
    FROM (
        SELECT
            ranked.*,
            CASE WHEN ranked.last_modified > prm.restore_at THEN 1 ELSE 0 END AS after,
            CASE
                WHEN ranked.last_modified <= prm.restore_at
                    AND (ranked.newer_modified IS NULL OR ranked.newer_modified > prm.restore_at)
                THEN 1 ELSE 0
            END AS wanted
        FROM ranked
        CROSS JOIN params AS prm
    ) AS r
    CROSS JOIN params AS p
    GROUP BY r.key
)

SELECT
    k.key,
    CASE
        WHEN k.has_wanted = 0 OR k.wanted_marker = 1 THEN
            CASE
                WHEN p.in_place AND k.current_marker = 1 THEN 'skip'
                WHEN p.delete_unwanted THEN 'delete'
                ELSE 'skip'
            END
        WHEN NOT p.in_place THEN 'copy'
        WHEN k.current_version = k.wanted_version THEN 'skip'
        WHEN p.undelete_allowed AND k.data_after = 0 THEN 'undelete'
        ELSE 'copy'
    END AS action,
    k.wanted_version,
    k.wanted_size,
    k.wanted_class,
    k.wanted_etag,
    k.wanted_modified,
    k.wanted_checksum,
    k.wanted_journal_only,
    k.markers,
    -- The listing's "looks the same" test, made only for an in-place copy (plan_make_current; a copy elsewhere
    -- checks the destination when executing): size, storage class, ETags that cannot prove a difference. An unknown
    -- storage class (a version known from the journal only) counts as possibly the same: the executor compares
    -- checksums before copying.
    CASE
        WHEN p.in_place
            AND k.current_marker = 0
            AND k.current_size = k.wanted_size
            AND (k.current_class IS NULL OR k.wanted_class IS NULL OR k.current_class = k.wanted_class)
            AND NOT (
                p.etags_are_md5
                AND k.current_etag <> k.wanted_etag
                AND strpos(k.current_etag, '-') = 0
                AND strpos(k.wanted_etag, '-') = 0
            )
        THEN 1 ELSE 0
    END AS maybe_same,
    k.current_version,
    k.current_size,
    k.current_class,
    k.current_etag,
    k.current_modified,
    k.current_marker,
    k.versions,
    k.first_modified,
    k.relist
FROM per_key AS k
CROSS JOIN params AS p
