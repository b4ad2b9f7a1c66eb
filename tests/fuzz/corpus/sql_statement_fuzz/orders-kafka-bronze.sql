-- Bronze from Kafka: every message of the orders topic, a JSON object per order line,
-- parsed with from_json into the same eight columns as the files Bronze
-- (examples/orders/bronze.sql), so that Silver and Gold are shared. The message itself
-- (`payload`) and its coordinates (topic, partition, offset, Kafka timestamp) are kept,
-- so every row traces back to one offset. A message whose Price or Quantity is present
-- but does not fit its type (or that is not a JSON object) keeps its whole text in
-- _rescued_data, as the files Bronze keeps the raw values it could not type.
CREATE OR REFRESH STREAMING TABLE bronze_orders
COMMENT 'Order lines exactly as received from Kafka, parsed, with the message coordinates and ingestion time'
AS SELECT o.TransactionNo, o.Date, o.ProductNo, o.ProductName, o.Price, o.Quantity, o.CustomerNo, o.Country,
          CASE WHEN get_json_object(payload, '$') IS NULL
                 OR (o.Price IS NULL AND payload:Price IS NOT NULL)
                 OR (o.Quantity IS NULL AND payload:Quantity IS NOT NULL)
               THEN payload END AS _rescued_data,
          payload, topic, partition, offset, kafka_timestamp,
          current_timestamp() AS ingestion_time
FROM (
  SELECT from_json(CAST(value AS STRING),
                   'TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING,
                    Price DOUBLE, Quantity INT, CustomerNo STRING, Country STRING') AS o,
         CAST(value AS STRING) AS payload, topic, partition, offset, timestamp AS kafka_timestamp
  FROM STREAM read_kafka(bootstrapServers => '${kafka}', subscribe => '${topic}',
                         startingOffsets => 'earliest')
) AS received;
