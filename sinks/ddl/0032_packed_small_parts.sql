-- Small parts in one file. Every batch a worker records makes a new part in `activities`, in
-- each rollup its materialized views feed (0002, 0010, 0021), in the stage tables (0003) and in
-- pipeline_metrics (0004): with one event per Kafka message a part holds a handful of rows, yet
-- each was written as ~12 files (~22 with the by_rep projection), each created, written, closed
-- and listed in checksums. Below min_bytes_for_full_part_storage (uncompressed) a part is stored
-- Packed instead: its files in one archive (data.packed; projections apart). Measured with
-- bench/insert_cost.py on the embedded engine: a 1-row insert into `activities` (with its views
-- and projection) costs about a third less CPU, a 1,000-row one less too. The threshold is
-- min_bytes_for_wide_part's default (10 MiB): a part small enough to be Compact is also Packed;
-- merged parts above it are written file by file as before.
--
-- Nothing read changes: same columns, rows, keys, merges, deduplication window and tokens (the
-- log of block ids lives beside the parts, not in them). Existing parts stay as they are and
-- merge with packed ones. A ClickHouse/chdb release from before packed part storage cannot read
-- packed parts, so a data directory written with this setting cannot go back to one.
ALTER TABLE {db}.activities MODIFY SETTING min_bytes_for_full_part_storage = 10485760;
ALTER TABLE {db}.touch_counts MODIFY SETTING min_bytes_for_full_part_storage = 10485760;
ALTER TABLE {db}.activity_by_rep_hour MODIFY SETTING min_bytes_for_full_part_storage = 10485760;
ALTER TABLE {db}.prospect_dispositions MODIFY SETTING min_bytes_for_full_part_storage = 10485760;
ALTER TABLE {db}.arrivals_by_source_second
    MODIFY SETTING min_bytes_for_full_part_storage = 10485760;
ALTER TABLE {db}.account_activity MODIFY SETTING min_bytes_for_full_part_storage = 10485760;
ALTER TABLE {db}.stage_visits MODIFY SETTING min_bytes_for_full_part_storage = 10485760;
ALTER TABLE {db}.opportunity_state MODIFY SETTING min_bytes_for_full_part_storage = 10485760;
ALTER TABLE {db}.pipeline_metrics MODIFY SETTING min_bytes_for_full_part_storage = 10485760
