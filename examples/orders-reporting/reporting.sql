-- Every valid order line of pipeline orders, appended here as orders commits it: the
-- stream's offsets (orders' table versions) are in this pipeline's checkpoint.
CREATE OR REFRESH STREAMING TABLE orders_ledger
COMMENT 'Order lines of pipeline orders, streamed exactly once'
AS SELECT TransactionNo, OrderDate, CustomerNo, Country, line_total
FROM STREAM(orders.silver_orders);

-- Per month and country, from the ledger.
CREATE OR REFRESH MATERIALIZED VIEW gold_monthly_revenue
COMMENT 'Revenue and orders per month and country'
AS SELECT trunc(OrderDate, 'MONTH') AS month,
          Country,
          round(SUM(line_total), 2) AS revenue,
          COUNT(DISTINCT TransactionNo) AS orders
FROM orders_ledger
WHERE OrderDate IS NOT NULL
GROUP BY trunc(OrderDate, 'MONTH'), Country;

-- Per customer, read straight from orders' table at its latest version (recorded in each
-- refresh's commit).
CREATE OR REFRESH MATERIALIZED VIEW gold_customer_value
COMMENT 'Revenue, orders and countries per customer'
AS SELECT CustomerNo,
          round(SUM(line_total), 2) AS revenue,
          COUNT(DISTINCT TransactionNo) AS orders,
          COUNT(*) AS order_lines
FROM orders.silver_orders
WHERE CustomerNo IS NOT NULL
GROUP BY CustomerNo;
