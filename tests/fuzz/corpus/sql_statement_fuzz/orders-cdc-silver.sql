-- Silver "governance": the OrderPlaced events' JSON payload parsed and typed, one row per
-- order line; lines that break a quality rule go to silver_order_lines_quarantine with
-- the rules they broke. The outbox id and _lsn are kept: _lsn places the order in the
-- WAL, which the Gold fact uses to pick the dimension versions current at the order.
CREATE OR REFRESH STREAMING TABLE silver_order_lines (
  CONSTRAINT valid_order    EXPECT (order_id IS NOT NULL AND customer_id IS NOT NULL) ON VIOLATION QUARANTINE,
  CONSTRAINT valid_quantity EXPECT (quantity IS NOT NULL AND quantity > 0)            ON VIOLATION QUARANTINE,
  CONSTRAINT valid_price    EXPECT (unit_price IS NOT NULL AND unit_price > 0)        ON VIOLATION QUARANTINE
)
COMMENT 'Order lines from the outbox, typed and validated'
AS SELECT order_id, customer_id, order_ts, line.line_no, line.product_id, line.quantity,
          line.unit_price, outbox_id, _lsn
FROM (
  SELECT o.order_id, o.customer_id, o.order_ts, o.lines, id AS outbox_id, _lsn
  FROM (
    SELECT id, _lsn,
           from_json(payload, 'order_id BIGINT, customer_id BIGINT, order_ts TIMESTAMP,
                     lines ARRAY<STRUCT<line_no INT, product_id BIGINT, quantity INT,
                                        unit_price DECIMAL(10,2)>>') AS o
    FROM STREAM(bronze_outbox)
    WHERE event_type = 'OrderPlaced' AND _change_type IN ('snapshot', 'insert')
  ) AS parsed
) AS orders
LATERAL VIEW explode(lines) exploded AS line;

-- Silver "business": line_total, and the orders of test accounts removed (a customer is
-- a test account in any version of dim_customer; an order whose customer the dimension
-- has not seen yet is kept).
CREATE OR REFRESH MATERIALIZED VIEW silver_sales
COMMENT 'Order lines with line_total, without test accounts'
AS SELECT l.*, round(l.quantity * l.unit_price, 2) AS line_total
FROM silver_order_lines AS l
LEFT JOIN (SELECT customer_id, max(CAST(is_test AS INT)) AS is_test
           FROM dim_customer GROUP BY customer_id) AS t
  ON t.customer_id = l.customer_id
WHERE coalesce(t.is_test, 0) = 0;
