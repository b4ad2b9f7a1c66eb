-- Bronze: every line of the CSV files in the landing folder, exactly as received, plus
-- when and from which file it was ingested. Values that do not fit the schema are NULL
-- here and kept verbatim in _rescued_data.
CREATE OR REFRESH STREAMING TABLE bronze_orders
COMMENT 'Order lines exactly as received, with ingestion time and source file'
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_path AS source_file
FROM STREAM read_files('${landing}', format => 'csv', header => true,
  schema => 'TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING,
             Price DOUBLE, Quantity INT, CustomerNo STRING, Country STRING');
