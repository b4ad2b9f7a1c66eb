-- bench/stateful_parts.sh, and the memory limit of src/cli/bounded_memory_test.cc: Bronze as
-- examples/orders has it, with an event time; a join of the stream with a small stored
-- table; a keyed de-duplication and a daily window over it, both under a one-day watermark
-- on the order date. The test's limit was measured with this query.
CREATE OR REFRESH STREAMING TABLE bronze_orders
AS SELECT *, try_to_timestamp(Date, 'M/d/yyyy') AS order_ts, _metadata.file_path AS source_file
FROM STREAM read_files('${landing}', format => 'csv', header => true,
  schema => 'TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING,
             Price DOUBLE, Quantity INT, CustomerNo STRING, Country STRING');

CREATE OR REFRESH MATERIALIZED VIEW countries
AS SELECT * FROM read_files('${dims}', format => 'csv', header => true, schema => 'Country STRING, region STRING');

CREATE OR REFRESH STREAMING TABLE silver_orders
AS SELECT o.TransactionNo, o.ProductNo, o.ProductName, o.Price, o.Quantity, o.CustomerNo, o.Country, c.region
FROM STREAM(bronze_orders) o LEFT JOIN countries c ON o.Country = c.Country
WHERE o.Quantity > 0;

CREATE OR REFRESH STREAMING TABLE silver_lines
AS SELECT TransactionNo, ProductNo, Price, Quantity, Country, order_ts FROM STREAM(bronze_orders)
WATERMARK order_ts DELAY OF INTERVAL 1 DAY
QUALIFY row_number() OVER (PARTITION BY TransactionNo, ProductNo ORDER BY order_ts) = 1;

CREATE OR REFRESH STREAMING TABLE gold_daily
AS SELECT window.start AS day, Country, round(sum(Price * Quantity), 2) AS revenue, count(*) AS lines
FROM STREAM(silver_lines) WATERMARK order_ts DELAY OF INTERVAL 1 DAY
GROUP BY window(order_ts, '1 day'), Country;
