-- Bronze click stream from landing files (the shop without a Kafka broker): the site's and
-- app's click, navigation and cart events, JSON lines, as received. A line that is not JSON
-- is a row of NULLs with the line in _rescued_data. examples/shop-kafka reads the same
-- events from a Kafka topic into a table of the same name and columns.
CREATE OR REFRESH STREAMING TABLE bronze_events (
  CONSTRAINT readable_event EXPECT (_rescued_data IS NULL)
)
COMMENT 'Click, navigation and cart events as received, with ingestion time and source'
AS SELECT event_id, event_ts, session_id, customer_id, channel, event_type, page, product_id,
          quantity, utm_campaign, _rescued_data,
          current_timestamp() AS ingestion_time, _metadata.file_name AS source
FROM STREAM read_files('${landing}/events', format => 'json',
  schema => 'event_id STRING, event_ts TIMESTAMP, session_id STRING, customer_id BIGINT,
             channel STRING, event_type STRING, page STRING, product_id BIGINT, quantity INT,
             utm_campaign STRING');
