/* Silver: typed, checked. */
CREATE OR REFRESH STREAMING TABLE silver_orders (
  CONSTRAINT positive_quantity EXPECT (Quantity > ${min_quantity}) ON VIOLATION QUARANTINE,
  CONSTRAINT positive_price    EXPECT (Price > 0)    ON VIOLATION DROP ROW,
  CONSTRAINT known_customer    EXPECT (CustomerNo IS NOT NULL)
)
PARTITIONED BY (order_date)
AS SELECT
  TransactionNo,
  to_date(`Date`, 'M/d/yyyy') AS order_date,
  ProductNo, ProductName,
  try_cast(Price AS DOUBLE) AS Price,
  try_cast(Quantity AS INT) AS Quantity,
  CustomerNo, Country,
  try_cast(Price AS DOUBLE) * try_cast(Quantity AS INT) AS line_total
FROM STREAM(LIVE.bronze_orders)
WHERE TransactionNo NOT LIKE "C%";
