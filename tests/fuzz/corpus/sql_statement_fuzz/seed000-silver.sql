-- Silver: the seed filters Quantity > 0 and Price > 0, then drops duplicates by
-- TransactionNo. In a stream that is keyed de-duplication: the first line per
-- TransactionNo, remembered for 10 minutes of ingestion time (the watermark bounds the
-- state). Note that in this data a TransactionNo is an invoice of several lines: like
-- the seed, this keeps one line per invoice (examples/orders drops exact re-deliveries).
CREATE OR REFRESH STREAMING TABLE silver_orders
COMMENT 'Positive quantity and price; the first line per TransactionNo within the watermark'
AS SELECT TransactionNo, Date, ProductNo, ProductName, Price, Quantity, CustomerNo, Country,
          ingestion_time
FROM STREAM(bronze_orders) WATERMARK ingestion_time DELAY OF INTERVAL 10 MINUTES
WHERE Quantity > 0 AND Price > 0
QUALIFY row_number() OVER (PARTITION BY TransactionNo ORDER BY ingestion_time) = 1;
