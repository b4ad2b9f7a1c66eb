-- Gold: a sales fact with the dimension versions that were current when each order was
-- committed (the order's _lsn falls in [__START_AT, __END_AT)), and seed 001's metrics.
-- An order whose customer was deleted before it (the application does not prevent it)
-- gets country 'unknown'.
CREATE OR REFRESH MATERIALIZED VIEW fact_sales
COMMENT 'One row per order line, with the customer and product as they were at the order'
AS SELECT s.order_id, s.line_no, s.order_ts, CAST(s.order_ts AS DATE) AS order_date,
          s.customer_id, coalesce(c.country, 'unknown') AS country,
          s.product_id, p.name AS product_name, coalesce(p.category, 'unknown') AS category,
          s.quantity, s.unit_price, s.line_total
FROM silver_sales AS s
LEFT JOIN dim_customer AS c
  ON c.customer_id = s.customer_id AND s._lsn >= c.__START_AT
 AND (c.__END_AT IS NULL OR s._lsn < c.__END_AT)
LEFT JOIN dim_product AS p
  ON p.product_id = s.product_id AND s._lsn >= p.__START_AT
 AND (p.__END_AT IS NULL OR s._lsn < p.__END_AT);

-- The Gold tables below have the names and columns of examples/orders' (the dashboard
-- and `lakepipe demo` read them), plus revenue per product category.
CREATE OR REFRESH MATERIALIZED VIEW gold_revenue_by_country
COMMENT 'Revenue, order lines, orders and customers per customer country at order time'
AS SELECT country AS Country,
          SUM(line_total) AS total_revenue,
          COUNT(*) AS order_lines,
          COUNT(DISTINCT order_id) AS orders,
          COUNT(DISTINCT customer_id) AS customers
FROM fact_sales
GROUP BY country;

CREATE OR REFRESH MATERIALIZED VIEW gold_top_products
COMMENT 'The 50 products with the highest revenue'
AS SELECT product_id AS ProductNo,
          max(product_name) AS ProductName,
          SUM(quantity) AS units,
          SUM(line_total) AS revenue
FROM fact_sales
GROUP BY product_id
ORDER BY revenue DESC, ProductNo
LIMIT 50;

CREATE OR REFRESH MATERIALIZED VIEW gold_revenue_by_category
COMMENT 'Revenue and units per product category at order time'
AS SELECT category, SUM(line_total) AS revenue, SUM(quantity) AS units
FROM fact_sales
GROUP BY category;

CREATE OR REFRESH MATERIALIZED VIEW gold_daily_revenue
COMMENT 'Revenue and orders per day'
AS SELECT order_date AS OrderDate,
          SUM(line_total) AS revenue,
          COUNT(DISTINCT order_id) AS orders,
          COUNT(*) AS order_lines
FROM fact_sales
GROUP BY order_date;

CREATE OR REFRESH MATERIALIZED VIEW gold_kpis
COMMENT 'Headline numbers: revenue, orders, customers, average order value'
AS SELECT SUM(line_total) AS total_revenue,
          COUNT(DISTINCT order_id) AS orders,
          COUNT(DISTINCT customer_id) AS customers,
          round(SUM(line_total) / COUNT(DISTINCT order_id), 2) AS average_order_value
FROM fact_sales;
