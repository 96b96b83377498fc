-- A record version's missing blobs are no longer written into
-- `records.missing`: they are read from `record_blobs` and `blobs` when
-- asked for, so an arriving blob rewrites only the records it completes.
-- `missing` keeps what the sealing rules found. Older rows lose their
-- blob lines here; any version that now lacks nothing is received.
--
-- A device's push answers with the blobs its records still lack, found
-- from its records: index them by device.

CREATE INDEX records_by_device ON records (device_id);

UPDATE records
SET missing = COALESCE(
    (SELECT json_group_array(value) FROM json_each(records.missing)
     WHERE value NOT LIKE '证据文件 %'),
    '[]')
WHERE missing LIKE '%证据文件 %';

UPDATE records SET state = 'received'
WHERE state = 'incomplete' AND missing = '[]'
  AND NOT EXISTS (
    SELECT 1 FROM record_blobs rb
    WHERE rb.record_id = records.record_id AND rb.version = records.version
      AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = rb.sha256));
