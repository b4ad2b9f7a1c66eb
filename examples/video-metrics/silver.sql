-- Silver: typed, validated, de-duplicated events, one table per kind.
--
-- De-duplication: the feed re-delivers events (an exact copy in the next batch); the first
-- delivery of each event_id is kept. Keys are remembered for 3 days of event time (the
-- watermark), longer than the feed is ever late.
--
-- Late events: the feed lands a batch at 08h and 20h, each with the events of the 12 hours
-- before the time in its file name (videos_2026-01-04T20.json). An event 12 hours or more
-- older than its file's time belonged to an earlier batch: it is kept (the day it belongs
-- to is recomputed in Gold) and counted by the on_time expectation (warn).
--
-- Quality rules: an event whose counters or duration did not parse (NULL in Bronze, the
-- raw text in _rescued_data) or that names no post goes to <table>_quarantine with the
-- rules it broke. Lines that were not JSON have no event_type and stay in Bronze only.
CREATE OR REFRESH STREAMING TABLE silver_views (
  CONSTRAINT known_post        EXPECT (post_id IS NOT NULL AND network IS NOT NULL AND institution_id IS NOT NULL)
                               ON VIOLATION QUARANTINE,
  CONSTRAINT readable_counters EXPECT (views IS NOT NULL AND likes IS NOT NULL AND comments IS NOT NULL
                                       AND shares IS NOT NULL) ON VIOLATION QUARANTINE,
  CONSTRAINT on_time           EXPECT (NOT is_late)
)
COMMENT 'View-count observations (cumulative counters of a post at a time), typed and de-duplicated'
AS SELECT * EXCEPT (event_type, post, metrics, ingestion_time, source_file),
          post.id AS post_id,
          post.institution.id AS institution_id,
          CAST(event_time AS DATE) AS day,
          metrics.views AS views,
          metrics.likes AS likes,
          metrics.comments AS comments,
          metrics.shares AS shares,
          coalesce(event_time <= try_to_timestamp(regexp_replace(source_file,
                                      '^.*([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}).*$', '$1 $2:00'))
                                  - INTERVAL 12 HOURS, false) AS is_late
FROM STREAM(bronze_video_events) WATERMARK event_time DELAY OF INTERVAL 3 DAYS
WHERE event_type = 'views_observed'
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_time) = 1;

-- The posts as created ("silver_criacao" in seed 003): one row per post, with its
-- institution flattened from the nested objects.
CREATE OR REFRESH STREAMING TABLE silver_criacao (
  CONSTRAINT known_post         EXPECT (post_id IS NOT NULL AND network IS NOT NULL AND institution_id IS NOT NULL)
                                ON VIOLATION QUARANTINE,
  CONSTRAINT readable_duration  EXPECT (duration_seconds IS NOT NULL AND duration_seconds > 0) ON VIOLATION QUARANTINE,
  CONSTRAINT on_time            EXPECT (NOT is_late)
)
COMMENT 'Video posts as created, with their institution, typed and de-duplicated'
AS SELECT * EXCEPT (event_type, post, metrics, ingestion_time, source_file),
          post.id AS post_id,
          CAST(event_time AS DATE) AS day,
          post.title AS title,
          post.duration_seconds AS duration_seconds,
          post.hashtags AS hashtags,
          post.institution.id AS institution_id,
          post.institution.name AS institution_name,
          post.institution.category AS institution_category,
          post.institution.city.name AS city,
          post.institution.city.state AS state,
          coalesce(event_time <= try_to_timestamp(regexp_replace(source_file,
                                      '^.*([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}).*$', '$1 $2:00'))
                                  - INTERVAL 12 HOURS, false) AS is_late
FROM STREAM(bronze_video_events) WATERMARK event_time DELAY OF INTERVAL 3 DAYS
WHERE event_type = 'post_created'
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_time) = 1;

-- Views a post gained each day it was observed: the counters are cumulative, so a day's
-- views are the day's last (largest) value minus the last value of an earlier day (0
-- before the first observation: a post starts at 0).
CREATE OR REFRESH MATERIALIZED VIEW silver_post_day_views
COMMENT 'Views, likes, comments and shares each post gained per day (growth of its counters)'
AS WITH per_day AS (
  SELECT post_id, network, institution_id, day,
         max(views) AS views_total, max(likes) AS likes_total,
         max(comments) AS comments_total, max(shares) AS shares_total
  FROM silver_views
  GROUP BY post_id, network, institution_id, day
)
SELECT post_id, network, institution_id, day, views_total,
       views_total - coalesce(lag(views_total) OVER (PARTITION BY post_id ORDER BY day), 0) AS views,
       likes_total - coalesce(lag(likes_total) OVER (PARTITION BY post_id ORDER BY day), 0) AS likes,
       comments_total - coalesce(lag(comments_total) OVER (PARTITION BY post_id ORDER BY day), 0) AS comments,
       shares_total - coalesce(lag(shares_total) OVER (PARTITION BY post_id ORDER BY day), 0) AS shares
FROM per_day;
