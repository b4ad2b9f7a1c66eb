CREATE OR REFRESH MATERIALIZED VIEW gold_revenue_by_country AS
SELECT Country, SUM(line_total) AS total_revenue, COUNT(*) AS order_lines,
       COUNT(DISTINCT TransactionNo) AS orders, COUNT(DISTINCT CustomerNo) AS customers
FROM silver_orders
GROUP BY Country;

CREATE TEMPORARY VIEW valid_lines AS
SELECT * EXCEPT (ProductName) FROM silver_orders WHERE Quantity BETWEEN 1 AND 10000;

CREATE OR REFRESH MATERIALIZED VIEW gold_daily_revenue AS
SELECT order_date AS day, round(sum(line_total), 2) AS revenue
FROM valid_lines
GROUP BY order_date
ORDER BY day;

CREATE LIVE TABLE gold_top_products
AS SELECT ProductNo, max(ProductName) AS ProductName, sum(Quantity) AS units
FROM LIVE.silver_orders s
GROUP BY ProductNo
ORDER BY units DESC
LIMIT 10;
