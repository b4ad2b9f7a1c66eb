-- Bronze: the changes of three PostgreSQL tables exactly as committed, with their WAL
-- coordinates (_lsn, _commit_timestamp, _xid). The first run copies each table at a
-- snapshot consistent with its replication slot (_change_type 'snapshot'), then streams.
CREATE OR REFRESH STREAMING TABLE bronze_outbox
COMMENT 'Outbox events of the orders application, one row per event, with WAL coordinates'
AS SELECT id, aggregate_type, aggregate_id, event_type, payload, created_at,
          _change_type, _lsn, _commit_timestamp, _xid,
          current_timestamp() AS ingestion_time
FROM STREAM read_postgres_cdc(dsn => '${postgres_dsn}', tableName => 'shop.outbox');

CREATE OR REFRESH STREAMING TABLE bronze_customer_changes
COMMENT 'Every change of shop.customers'
AS SELECT * FROM STREAM read_postgres_cdc(dsn => '${postgres_dsn}', tableName => 'shop.customers');

CREATE OR REFRESH STREAMING TABLE bronze_product_changes
COMMENT 'Every change of shop.products'
AS SELECT * FROM STREAM read_postgres_cdc(dsn => '${postgres_dsn}', tableName => 'shop.products');
