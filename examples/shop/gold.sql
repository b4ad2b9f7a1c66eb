-- Gold: the sales fact (grain: one order line) with the dimensions' surrogate keys, and
-- the three business views of seed 004's dashboards.
--
-- The customer and product keys are those of the dimension versions valid at the order's
-- time (valid_from <= order_ts < valid_to). A line with no such version — a customer who
-- signed up and ordered the same day (the CRM extract of that day was taken at 00:00), a
-- product the ERP never exported — gets the unknown member (-1) and is counted by the
-- expectations below (warn: the row is kept). A line whose total is not its quantity
-- times its price stops the update (FAIL: Gold must not publish an inconsistent fact).
CREATE OR REFRESH MATERIALIZED VIEW fact_sales (
  CONSTRAINT known_customer EXPECT (customer_sk <> -1),
  CONSTRAINT known_product  EXPECT (product_sk <> -1),
  CONSTRAINT known_store    EXPECT (store_sk <> -1),
  CONSTRAINT known_channel  EXPECT (channel_sk <> -1),
  CONSTRAINT line_total_is_quantity_times_price
                            EXPECT (line_total = quantity * unit_price) ON VIOLATION FAIL UPDATE
)
COMMENT 'Sales fact, one row per order line, with surrogate keys to every dimension'
AS SELECT s.order_id, s.line_no,
          CAST(date_format(s.order_date, 'yyyyMMdd') AS INT) AS date_key,
          coalesce(c.customer_sk, -1) AS customer_sk,
          coalesce(p.product_sk, -1) AS product_sk,
          coalesce(st.store_sk, -1) AS store_sk,
          coalesce(ch.channel_sk, -1) AS channel_sk,
          s.order_ts, s.order_date, s.customer_id, s.product_id, s.campaign_id, s.session_id,
          s.quantity, s.unit_price, s.line_total
FROM silver_sales AS s
LEFT JOIN dim_customer AS c
  ON c.customer_id = s.customer_id AND s.order_ts >= c.valid_from
 AND (c.valid_to IS NULL OR s.order_ts < c.valid_to)
LEFT JOIN dim_product AS p
  ON p.product_id = s.product_id AND s.order_ts >= p.valid_from
 AND (p.valid_to IS NULL OR s.order_ts < p.valid_to)
LEFT JOIN dim_store AS st ON st.store_id = s.store_id
LEFT JOIN dim_channel AS ch ON ch.channel_code = s.channel;

-- Sales by channel per day.
CREATE OR REFRESH MATERIALIZED VIEW gold_sales_by_channel_day
COMMENT 'Revenue, orders, order lines and units per day and sales channel'
AS SELECT d.date, ch.channel_code AS channel, ch.channel_name,
          sum(f.line_total) AS revenue,
          count(DISTINCT f.order_id) AS orders,
          count(*) AS order_lines,
          sum(f.quantity) AS units
FROM fact_sales AS f
JOIN dim_date AS d ON d.date_key = f.date_key
JOIN dim_channel AS ch ON ch.channel_sk = f.channel_sk
GROUP BY d.date, ch.channel_code, ch.channel_name;

-- Campaign performance: the funnel clicks -> carts -> orders -> revenue per campaign. A
-- click is a session that arrived through the campaign (its UTM tag); a cart, such a
-- session that added to the cart; orders and revenue, the online orders that session
-- checked out (attributed by the order's campaign_id). Per hour (the live view: the
-- dashboard shows the last hour) and per day. Times are the session's start and the
-- order's time. Clicks and carts count closed sessions (silver_sessions): a session
-- appears once the stream's watermark passes its end, 40 minutes of event time after its
-- last event, while its order counts as soon as it is placed.
CREATE OR REFRESH MATERIALIZED VIEW gold_campaign_hourly
COMMENT 'Campaign funnel per hour: clicks (sessions), carts, orders, revenue'
AS SELECT f.campaign_id, c.campaign_name, c.marketing_channel, f.hour,
          sum(f.clicks) AS clicks, sum(f.carts) AS carts, sum(f.orders) AS orders, sum(f.revenue) AS revenue
FROM (
  SELECT campaign_id, date_trunc('HOUR', session_start) AS hour, count(*) AS clicks,
         count_if(cart_adds > 0) AS carts, 0 AS orders, CAST(0 AS DECIMAL(21,2)) AS revenue
  FROM silver_sessions WHERE campaign_id IS NOT NULL
  GROUP BY campaign_id, date_trunc('HOUR', session_start)
  UNION ALL
  SELECT campaign_id, date_trunc('HOUR', order_ts) AS hour, 0, 0,
         count(DISTINCT order_id), sum(line_total)
  FROM fact_sales WHERE campaign_id IS NOT NULL
  GROUP BY campaign_id, date_trunc('HOUR', order_ts)
) AS f
LEFT JOIN bronze_campaigns AS c ON c.campaign_id = f.campaign_id
GROUP BY f.campaign_id, c.campaign_name, c.marketing_channel, f.hour;

CREATE OR REFRESH MATERIALIZED VIEW gold_campaign_daily
COMMENT 'Campaign funnel per day: clicks (sessions), carts, orders, revenue, conversion'
AS SELECT campaign_id, campaign_name, marketing_channel, CAST(hour AS DATE) AS date,
          sum(clicks) AS clicks, sum(carts) AS carts, sum(orders) AS orders, sum(revenue) AS revenue,
          round(try_divide(sum(orders), sum(clicks)), 4) AS conversion
FROM gold_campaign_hourly
GROUP BY campaign_id, campaign_name, marketing_channel, CAST(hour AS DATE);

-- New vs returning customers per day: a customer is new on the day of their first order
-- in the data, returning on any later day they order.
CREATE OR REFRESH MATERIALIZED VIEW gold_customers_new_returning
COMMENT 'Customers who ordered per day: new (first order that day) and returning'
AS SELECT d.order_date AS date,
          count_if(d.order_date = f.first_day) AS new_customers,
          count_if(d.order_date > f.first_day) AS returning_customers,
          count(*) AS customers
FROM (SELECT DISTINCT order_date, customer_id FROM fact_sales) AS d
JOIN (SELECT customer_id, min(order_date) AS first_day FROM fact_sales GROUP BY customer_id) AS f
  ON f.customer_id = d.customer_id
GROUP BY d.order_date;
