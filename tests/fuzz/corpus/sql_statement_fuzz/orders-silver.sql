-- Silver: typed and validated order lines. Exact re-deliveries (the same values in all
-- eight source columns, including raw values that did not fit their type, wherever the
-- line came from) are dropped; lines with a non-positive or unreadable quantity or
-- price (cancellations among them) go to silver_orders_quarantine with the rules they broke.
CREATE OR REFRESH STREAMING TABLE silver_orders (
  CONSTRAINT valid_quantity EXPECT (Quantity IS NOT NULL AND Quantity > 0) ON VIOLATION QUARANTINE,
  CONSTRAINT valid_price    EXPECT (Price IS NOT NULL AND Price > 0)       ON VIOLATION QUARANTINE,
  CONSTRAINT valid_date     EXPECT (OrderDate IS NOT NULL),
  CONSTRAINT known_customer EXPECT (CustomerNo IS NOT NULL)
)
COMMENT 'Typed, validated, de-duplicated order lines'
AS SELECT
  TransactionNo,
  try_to_date(Date, 'M/d/yyyy') AS OrderDate,
  ProductNo,
  ProductName,
  Price,
  Quantity,
  CustomerNo,
  Country,
  round(Price * Quantity, 2) AS line_total
FROM (
  SELECT DISTINCT TransactionNo, Date, ProductNo, ProductName, Price, Quantity, CustomerNo,
                  Country,
                  regexp_replace(_rescued_data, ',?"_file_path":"([^"\\\\]|\\\\.)*"', '') AS raw_values
  FROM STREAM(bronze_orders)
) AS received
WHERE CustomerNo IS NULL
   OR (',' || '${test_customers}' || ',') NOT LIKE ('%,' || CustomerNo || ',%');
