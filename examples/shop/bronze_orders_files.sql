-- Bronze order lines from landing files (`orders/orders_<day>.csv`). examples/shop-postgres
-- reads the same lines from the order system's outbox in PostgreSQL instead, into the same
-- columns, so Silver and Gold are shared.

-- The order system's order lines. Bronze keeps every row and only counts the ones with a
-- value that did not fit (warn); Silver quarantines them, Gold stops on an inconsistency
-- (seed 002's expectations per layer: WARN, then DROP/QUARANTINE, then FAIL).
CREATE OR REFRESH STREAMING TABLE bronze_orders (
  CONSTRAINT readable_line EXPECT (_rescued_data IS NULL)
)
COMMENT 'Order lines as received, flaws included'
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}/orders', format => 'csv', header => true,
  schema => 'order_id BIGINT, line_no INT, order_ts TIMESTAMP, channel STRING, store_id INT,
             customer_id BIGINT, session_id STRING, campaign_id STRING, product_id BIGINT,
             quantity INT, unit_price DECIMAL(10,2)');
