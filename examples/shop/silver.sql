-- Silver "governance": typed rows, quality rules, quarantine. A row that breaks a rule goes
-- to <table>_quarantine with the names of the rules it broke (counted in the event log),
-- never dropped in silence.
CREATE OR REFRESH STREAMING TABLE silver_order_lines (
  CONSTRAINT valid_order    EXPECT (order_id IS NOT NULL AND line_no IS NOT NULL AND order_ts IS NOT NULL
                                    AND product_id IS NOT NULL AND channel IN ('online', 'store'))
                            ON VIOLATION QUARANTINE,
  CONSTRAINT known_customer EXPECT (customer_id IS NOT NULL)                  ON VIOLATION QUARANTINE,
  CONSTRAINT valid_quantity EXPECT (quantity IS NOT NULL AND quantity > 0)    ON VIOLATION QUARANTINE,
  CONSTRAINT valid_price    EXPECT (unit_price IS NOT NULL AND unit_price > 0) ON VIOLATION QUARANTINE
)
COMMENT 'Order lines, typed and validated, with line_total'
AS SELECT order_id, line_no, order_ts, CAST(order_ts AS DATE) AS order_date, channel, store_id,
          customer_id, session_id, campaign_id, product_id, quantity, unit_price,
          quantity * unit_price AS line_total, source_file
FROM STREAM(bronze_orders);

CREATE OR REFRESH STREAMING TABLE silver_customer_extracts (
  CONSTRAINT valid_customer EXPECT (customer_id IS NOT NULL AND extract_date IS NOT NULL) ON VIOLATION QUARANTINE
)
COMMENT 'CRM extracts, one row per customer per extract day'
AS SELECT customer_id, name, email, city, state, segment, signup_date, is_test, extract_date
FROM STREAM(bronze_customers);

CREATE OR REFRESH STREAMING TABLE silver_products (
  CONSTRAINT valid_product EXPECT (product_id IS NOT NULL AND updated_at IS NOT NULL) ON VIOLATION QUARANTINE,
  CONSTRAINT valid_price   EXPECT (unit_price IS NOT NULL AND unit_price > 0)      ON VIOLATION QUARANTINE
)
COMMENT 'ERP product changes, typed and validated (the change feed of dim_product)'
AS SELECT product_id, sku, product_name, category, brand, unit_price, updated_at
FROM STREAM(bronze_products);

-- Events: typed, de-duplicated by event_id (the feed sometimes delivers an event twice;
-- the copies arrive right after the first). Keys are remembered for an hour of event time.
-- A line that was not JSON has no event time: it goes to silver_events_late with the
-- reason (counted as rows_late), and stays in Bronze with its text in _rescued_data.
CREATE OR REFRESH STREAMING TABLE silver_events (
  CONSTRAINT valid_event EXPECT (event_id IS NOT NULL AND session_id IS NOT NULL AND event_type IS NOT NULL
                                 AND channel IN ('web', 'app')) ON VIOLATION QUARANTINE
)
COMMENT 'Click, navigation and cart events, typed and de-duplicated'
AS SELECT event_id, event_ts, CAST(event_ts AS DATE) AS event_date, session_id, customer_id, channel,
          event_type, page, product_id, quantity, utm_campaign AS campaign_id
FROM STREAM(bronze_events) WATERMARK event_ts DELAY OF INTERVAL 1 HOUR
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_ts) = 1;

-- Silver "business": the orders of CRM test accounts removed (a customer is a test account
-- when any extract says so; a customer in no extract yet is kept).
CREATE OR REFRESH MATERIALIZED VIEW silver_sales
COMMENT 'Order lines with line_total, without test accounts'
AS SELECT l.*
FROM silver_order_lines AS l
LEFT JOIN (SELECT customer_id, max(CAST(is_test AS INT)) AS is_test
           FROM silver_customer_extracts GROUP BY customer_id) AS t
  ON t.customer_id = l.customer_id
WHERE coalesce(t.is_test, 0) = 0;

-- Sessionisation of the click stream, as a stream: a session's events with no gap of 30
-- minutes or more (Spark's session_window). A session is written once, when the watermark
-- (the latest event time seen, less 10 minutes) passes its end (its last event + 30
-- minutes), so the state holds only the open sessions; an event behind the watermark would
-- go to silver_sessions_late. The sessions of the last 40 minutes of event time are still
-- open: they are written when later events arrive.
CREATE OR REFRESH STREAMING TABLE silver_sessions
COMMENT 'Closed sessions of the click stream: start, end, channel, campaign and funnel counts'
AS SELECT session_id, session_window.start AS session_start, session_window.end AS session_end,
          channel, campaign_id, max(customer_id) AS customer_id,
          count(*) AS events,
          count_if(event_type = 'page_view') AS page_views,
          count_if(event_type = 'product_click') AS product_clicks,
          count_if(event_type = 'add_to_cart') AS cart_adds,
          count_if(event_type = 'checkout') AS checkouts
FROM STREAM(silver_events) WATERMARK event_ts DELAY OF INTERVAL 10 MINUTES
GROUP BY session_id, session_window(event_ts, '30 minutes'), channel, campaign_id;
