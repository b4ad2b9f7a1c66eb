-- Bronze order lines from the order system's outbox in PostgreSQL: each order line is one
-- outbox event (event_type 'OrderLinePlaced', payload = the line as a JSON object), an
-- order's lines committed in one transaction. read_postgres_cdc copies the outbox at a
-- snapshot consistent with its replication slot on the first run, then streams the
-- inserts; exactly once across restarts (docs/postgres-cdc.md, "Exactly once").
--
-- Parsed with from_json into the columns of the files Bronze
-- (examples/shop/bronze_orders_files.sql), so Silver and Gold are shared. A value that
-- does not fit its type is NULL and the whole payload is kept in _rescued_data, as a file
-- line's would be; `source_file` names the outbox row, `_lsn` and `_commit_timestamp` its
-- place in the WAL.
CREATE OR REFRESH STREAMING TABLE bronze_orders (
  CONSTRAINT readable_line EXPECT (_rescued_data IS NULL)
)
COMMENT 'Order lines as the order system committed them to its outbox, flaws included'
AS SELECT l.order_id, l.line_no, l.order_ts, l.channel, l.store_id, l.customer_id, l.session_id,
          l.campaign_id, l.product_id, l.quantity, l.unit_price,
          CASE WHEN (l.order_id IS NULL AND payload:order_id IS NOT NULL)
                 OR (l.line_no IS NULL AND payload:line_no IS NOT NULL)
                 OR (l.order_ts IS NULL AND payload:order_ts IS NOT NULL)
                 OR (l.store_id IS NULL AND payload:store_id IS NOT NULL)
                 OR (l.customer_id IS NULL AND payload:customer_id IS NOT NULL)
                 OR (l.product_id IS NULL AND payload:product_id IS NOT NULL)
                 OR (l.quantity IS NULL AND payload:quantity IS NOT NULL)
                 OR (l.unit_price IS NULL AND payload:unit_price IS NOT NULL)
               THEN payload END AS _rescued_data,
          current_timestamp() AS ingestion_time,
          concat('postgres:shop.outbox/', CAST(id AS STRING)) AS source_file,
          _lsn, _commit_timestamp
FROM (
  SELECT from_json(payload,
                   'order_id BIGINT, line_no INT, order_ts TIMESTAMP, channel STRING, store_id INT,
                    customer_id BIGINT, session_id STRING, campaign_id STRING, product_id BIGINT,
                    quantity INT, unit_price DECIMAL(10,2)') AS l,
         payload, id, _lsn, _commit_timestamp
  FROM STREAM read_postgres_cdc(dsn => '${postgres_dsn}', tableName => 'shop.outbox')
  WHERE event_type = 'OrderLinePlaced' AND _change_type IN ('snapshot', 'insert')
) AS committed;
