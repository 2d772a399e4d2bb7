-- Sales motion (acquisition / retention / upsell) and product line of each activity: optional
-- event fields (schema v1, additive); '' = not given by the source.
ALTER TABLE {db}.activities ADD COLUMN IF NOT EXISTS motion LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.activities ADD COLUMN IF NOT EXISTS product_line LowCardinality(String) DEFAULT ''
