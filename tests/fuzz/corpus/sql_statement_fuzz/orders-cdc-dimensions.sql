-- The dimensions keep their history (SCD type 2): each version of a customer or product
-- with __START_AT/__END_AT, the WAL positions of the changes that opened and closed it.
-- A delete closes the current version; a customer added again opens a new one.
CREATE OR REFRESH STREAMING TABLE dim_customer
COMMENT 'Customers with history; __START_AT/__END_AT are WAL positions (_lsn)';
CREATE FLOW dim_customer_cdc AS AUTO CDC INTO dim_customer
FROM STREAM(bronze_customer_changes)
KEYS (customer_id)
APPLY AS DELETE WHEN _change_type = 'delete'
SEQUENCE BY _lsn
COLUMNS * EXCEPT (_change_type, _lsn, _commit_timestamp, _xid, _rescued_data)
STORED AS SCD TYPE 2
TRACK HISTORY ON * EXCEPT (updated_at);

CREATE OR REFRESH STREAMING TABLE dim_product
COMMENT 'Products with history; __START_AT/__END_AT are WAL positions (_lsn)';
CREATE FLOW dim_product_cdc AS AUTO CDC INTO dim_product
FROM STREAM(bronze_product_changes)
KEYS (product_id)
APPLY AS DELETE WHEN _change_type = 'delete'
SEQUENCE BY _lsn
COLUMNS * EXCEPT (_change_type, _lsn, _commit_timestamp, _xid, _rescued_data)
STORED AS SCD TYPE 2
TRACK HISTORY ON * EXCEPT (updated_at);
