-- Gold: business tables over the valid order lines, recomputed on each update.
CREATE OR REFRESH MATERIALIZED VIEW gold_revenue_by_country
COMMENT 'Revenue, order lines, orders and customers per country'
AS SELECT Country,
          round(SUM(line_total), 2) AS total_revenue,
          COUNT(*) AS order_lines,
          COUNT(DISTINCT TransactionNo) AS orders,
          COUNT(DISTINCT CustomerNo) AS customers
FROM silver_orders
GROUP BY Country;

CREATE OR REFRESH MATERIALIZED VIEW gold_top_products
COMMENT 'The 50 products with the highest revenue'
AS SELECT ProductNo,
          max(ProductName) AS ProductName,
          SUM(Quantity) AS units,
          round(SUM(line_total), 2) AS revenue
FROM silver_orders
GROUP BY ProductNo
ORDER BY revenue DESC, ProductNo
LIMIT 50;

CREATE OR REFRESH MATERIALIZED VIEW gold_daily_revenue
COMMENT 'Revenue and orders per day'
AS SELECT OrderDate,
          round(SUM(line_total), 2) AS revenue,
          COUNT(DISTINCT TransactionNo) AS orders,
          COUNT(*) AS order_lines
FROM silver_orders
WHERE OrderDate IS NOT NULL
GROUP BY OrderDate;

CREATE OR REFRESH MATERIALIZED VIEW gold_kpis
COMMENT 'Headline numbers: revenue, orders, customers, average order value'
AS SELECT round(SUM(line_total), 2) AS total_revenue,
          COUNT(DISTINCT TransactionNo) AS orders,
          COUNT(DISTINCT CustomerNo) AS customers,
          round(SUM(line_total) / COUNT(DISTINCT TransactionNo), 2) AS average_order_value
FROM silver_orders;
