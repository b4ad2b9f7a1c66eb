-- Bronze: every event of the feed exactly as received, with full history (late events,
-- re-deliveries and broken lines included), plus when and from which file it was
-- ingested. The schema is inferred from the files the way Auto Loader does it and kept
-- in the flow's checkpoint; the hints pin the types the later layers rely on, and declare
-- the counters (a first file may have no views_observed event yet). A field the feed
-- starts sending later (`device`, from some day on) stops the stream once with
-- schemaEvolutionMode addNewColumns' message; the run then restarts the flow by itself
-- with the column added (Silver's SELECT * gains it too).
-- Values that do not fit (a counter sent as "n/a") are NULL here and kept verbatim in
-- _rescued_data; a line that is not JSON is a row of NULLs with the line in
-- _rescued_data's _corrupt_record.
CREATE OR REFRESH STREAMING TABLE bronze_video_events
COMMENT 'Video feed events exactly as received, with ingestion time and source file'
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}', format => 'json', pathGlobFilter => 'videos_*.json',
  inferColumnTypes => true,
  schemaHints => 'event_id STRING, event_type STRING, event_time TIMESTAMP, network STRING,
                  post.id STRING, post.duration_seconds BIGINT, post.institution.id BIGINT,
                  metrics.views BIGINT, metrics.likes BIGINT, metrics.comments BIGINT,
                  metrics.shares BIGINT');
