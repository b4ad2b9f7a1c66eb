-- Bronze: every source exactly as received, with when and from which file it was
-- ingested. Auto Loader-style reads of the landing zone that `lakepipe generate shop`
-- fills (docs/generate.md, "shop"): each new file is read once, exactly once.
-- Values that do not fit their declared type are NULL here and kept verbatim in
-- _rescued_data (Silver quarantines those rows).

-- ERP reference data.
CREATE OR REFRESH STREAMING TABLE bronze_stores
COMMENT 'ERP stores as received (store 0 is the online store)'
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}/erp/stores', format => 'csv', header => true,
  schema => 'store_id INT, store_name STRING, store_type STRING, city STRING, state STRING,
             region STRING, opened_date DATE');

CREATE OR REFRESH STREAMING TABLE bronze_channels
COMMENT 'ERP sales channels as received'
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}/erp/channels', format => 'csv', header => true,
  schema => 'channel_id INT, channel_code STRING, channel_name STRING, is_online BOOLEAN');

-- ERP product changes: the first file has every product, later ones the day's changes.
CREATE OR REFRESH STREAMING TABLE bronze_products
COMMENT 'ERP product changes as received, one row per product change'
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}/erp/products', format => 'csv', header => true,
  schema => 'product_id BIGINT, sku STRING, product_name STRING, category STRING, brand STRING,
             unit_price DECIMAL(10,2), updated_at TIMESTAMP');

-- CRM: a full extract of the customers every day (Parquet). The schema is the CRM export's
-- contract, declared so that the pipeline plans before the first extract lands.
CREATE OR REFRESH STREAMING TABLE bronze_customers
COMMENT 'CRM daily customer extracts as received, one row per customer per extract'
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}/crm/customers', format => 'parquet',
  schema => 'customer_id BIGINT, name STRING, email STRING, city STRING, state STRING, segment STRING,
             signup_date DATE, is_test BOOLEAN, extract_date DATE');

CREATE OR REFRESH STREAMING TABLE bronze_campaigns
COMMENT 'Marketing campaigns as received'
AS SELECT *, current_timestamp() AS ingestion_time, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}/marketing/campaigns', format => 'csv', header => true,
  schema => 'campaign_id STRING, campaign_name STRING, marketing_channel STRING, start_date DATE,
             end_date DATE, budget DECIMAL(12,2)');

-- The order lines: bronze_orders_files.sql (landing files) or, in examples/shop-postgres,
-- the order system's outbox in PostgreSQL.
