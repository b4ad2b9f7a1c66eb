-- Bronze: every line of the landing CSV files as received.
CREATE OR REFRESH STREAMING TABLE bronze_orders
COMMENT 'order lines exactly as received'
TBLPROPERTIES ('quality' = 'bronze')
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_path AS source_file
FROM STREAM read_files('${landing}/orders', format => 'csv', header => true,
  schema => 'TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING,
             Price STRING, Quantity STRING, CustomerNo STRING, Country STRING');
