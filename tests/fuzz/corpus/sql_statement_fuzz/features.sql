CREATE OR REFRESH STREAMING TABLE bronze_events (
  CONSTRAINT has_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION FAIL UPDATE
) PARTITIONED BY (day)
TBLPROPERTIES ('pipelines.trigger.interval' = '10 seconds', 'delta.enableChangeDataFeed' = 'true')
COMMENT 'raw events'
AS SELECT *, CAST(ts AS DATE) AS day, _metadata.file_path AS src
FROM STREAM read_files('${landing}', format => 'json', inferColumnTypes => true,
  schemaHints => 'amount DECIMAL(12,2)', schemaEvolutionMode => 'rescue', multiLine => false);

CREATE OR REFRESH STREAMING TABLE silver_events AS
SELECT e.id, e.amount * 1.1 AS gross, e.payload.post.institution.name AS inst, explode(e.tags) AS tag
FROM STREAM(bronze_events) e WATERMARK ts DELAY OF INTERVAL 10 MINUTES
WHERE e.id NOT IN (${test_customers});

CREATE OR REFRESH MATERIALIZED VIEW gold_windows AS
SELECT window(ts, '5 minutes').start AS w, network, count(*) AS n, sum(views) AS views,
       min(amount) AS lo, max(amount) AS hi, approx_count_distinct(id) AS ids
FROM silver_events GROUP BY ALL HAVING count(*) > 1 ORDER BY w DESC LIMIT 100;

CREATE OR REFRESH STREAMING TABLE joined AS
SELECT o.id, c.name FROM STREAM(orders) o
JOIN STREAM(clicks) c ON o.session = c.session AND c.ts BETWEEN o.ts - INTERVAL 1 HOUR AND o.ts;

CREATE OR REFRESH STREAMING TABLE dim_customer;
CREATE FLOW customers_cdc AS AUTO CDC INTO dim_customer
FROM STREAM(customers_changes) KEYS (customer_id) IGNORE NULL UPDATES
APPLY AS DELETE WHEN operation = 'DELETE' APPLY AS TRUNCATE WHEN operation = 'TRUNCATE'
SEQUENCE BY struct(ts, seq) COLUMNS * EXCEPT (operation, seq) STORED AS SCD TYPE 2
TRACK HISTORY ON * EXCEPT (last_login);
APPLY CHANGES INTO dim_product FROM STREAM(products_changes) KEYS (id) SEQUENCE BY _lsn;
CREATE FLOW backfill AS INSERT INTO ONCE orders BY NAME SELECT * FROM read_files('/old', format => 'csv', header => true);
CREATE TEMPORARY VIEW v AS WITH t AS (SELECT 1 AS a UNION ALL SELECT 2) SELECT a, CASE WHEN a > 1 THEN 'x' ELSE NULL END FROM t;
