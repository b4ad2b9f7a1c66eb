-- Bronze click stream from Kafka: each message is one event as the site or app sent it
-- (`lakepipe produce --from events_<day>.json --to kafka://HOST:PORT/TOPIC` sends the
-- generated files' lines). Parsed with from_json into the columns of the files Bronze
-- (examples/shop/bronze_events_files.sql), so Silver and Gold are shared. A message that
-- is not a JSON object, or whose field does not fit its type, keeps its whole text in
-- _rescued_data; `source` names its topic, partition and offset.
CREATE OR REFRESH STREAMING TABLE bronze_events (
  CONSTRAINT readable_event EXPECT (_rescued_data IS NULL)
)
COMMENT 'Click, navigation and cart events as received from Kafka, with ingestion time and source'
AS SELECT e.event_id, e.event_ts, e.session_id, e.customer_id, e.channel, e.event_type, e.page,
          e.product_id, e.quantity, e.utm_campaign,
          CASE WHEN get_json_object(payload, '$') IS NULL
                 OR (e.event_ts IS NULL AND payload:event_ts IS NOT NULL)
                 OR (e.customer_id IS NULL AND payload:customer_id IS NOT NULL)
                 OR (e.product_id IS NULL AND payload:product_id IS NOT NULL)
                 OR (e.quantity IS NULL AND payload:quantity IS NOT NULL)
               THEN payload END AS _rescued_data,
          current_timestamp() AS ingestion_time,
          concat(topic, '/', CAST(partition AS STRING), '/', CAST(offset AS STRING)) AS source
FROM (
  SELECT from_json(CAST(value AS STRING),
                   'event_id STRING, event_ts TIMESTAMP, session_id STRING, customer_id BIGINT,
                    channel STRING, event_type STRING, page STRING, product_id BIGINT, quantity INT,
                    utm_campaign STRING') AS e,
         CAST(value AS STRING) AS payload, topic, partition, offset
  FROM STREAM read_kafka(bootstrapServers => '${kafka}', subscribe => '${events_topic}',
                         startingOffsets => 'earliest')
) AS received;
