-- Gold dimensions of the star schema. Every dimension has an "unknown" member with key -1:
-- a fact row whose business key has no dimension row valid at its time points there (and
-- fact_sales' expectations count it), so no sale is ever dropped for a missing dimension.
--
-- Surrogate keys are computed from the business key and the version's start, not numbered
-- with row_number(): the same version keeps its key when the view is recomputed, when
-- history grows, and when the pipeline is rebuilt from Bronze.

-- Products: SCD type 2 by AUTO CDC over the ERP's change files. A version is valid from
-- its change's updated_at (__START_AT) to the next change's (__END_AT, NULL while current).
CREATE OR REFRESH STREAMING TABLE dim_product_history
COMMENT 'Every version of every product (AUTO CDC, SCD type 2, sequenced by updated_at)';
CREATE FLOW dim_product_scd2 AS AUTO CDC INTO dim_product_history
FROM STREAM(silver_products)
KEYS (product_id)
SEQUENCE BY updated_at
COLUMNS * EXCEPT (updated_at)
STORED AS SCD TYPE 2;

CREATE OR REFRESH MATERIALIZED VIEW dim_product
COMMENT 'Product dimension (SCD2): one row per product version, key -1 the unknown product'
AS SELECT product_id * 10000000000 + CAST(__START_AT AS BIGINT) AS product_sk,
          product_id, sku, product_name, category, brand, unit_price AS list_price,
          __START_AT AS valid_from, __END_AT AS valid_to, __END_AT IS NULL AS is_current
FROM dim_product_history
UNION ALL
SELECT -1, CAST(NULL AS BIGINT), 'unknown', 'unknown product', 'unknown', 'unknown',
       CAST(NULL AS DECIMAL(10,2)), CAST(NULL AS TIMESTAMP), CAST(NULL AS TIMESTAMP), true
FROM (SELECT count(*) AS n FROM dim_product_history) AS one_row;

-- Customers: SCD type 2 from the CRM's daily full extracts, by AUTO CDC FROM SNAPSHOT
-- (docs/sql-reference.md). An extract says who the customers are at its 00:00: each is
-- compared with the customers live after the previous one, so a version starts at the
-- extract where a customer appears or where one of their attributes differs (__START_AT),
-- and ends at the first extract where they differ again or are missing (removed;
-- __END_AT), or stays current. Only the new extracts are read at each update. The signup
-- date never changes; it is not compared.
CREATE OR REFRESH STREAMING TABLE dim_customer_history
COMMENT 'Every version of every customer (AUTO CDC FROM SNAPSHOT of the daily CRM extracts, SCD type 2)';
CREATE FLOW dim_customer_snapshots AS AUTO CDC INTO dim_customer_history
FROM SNAPSHOT silver_customer_extracts
KEYS (customer_id)
SEQUENCE BY extract_date
STORED AS SCD TYPE 2
TRACK HISTORY ON * EXCEPT (signup_date);

CREATE OR REFRESH MATERIALIZED VIEW dim_customer
COMMENT 'Customer dimension (SCD2 from daily CRM extracts): one row per customer version, key -1 the unknown customer'
AS SELECT customer_id * 100000 + datediff(__START_AT, DATE '2000-01-01') AS customer_sk,
          customer_id, name, email, city, state, segment, signup_date, is_test,
          CAST(__START_AT AS TIMESTAMP) AS valid_from, CAST(__END_AT AS TIMESTAMP) AS valid_to,
          __END_AT IS NULL AS is_current
FROM dim_customer_history
UNION ALL
SELECT -1, CAST(NULL AS BIGINT), 'unknown', CAST(NULL AS STRING), 'unknown', 'unknown', 'unknown',
       CAST(NULL AS DATE), false, CAST(NULL AS TIMESTAMP), CAST(NULL AS TIMESTAMP), true
FROM (SELECT count(*) AS n FROM dim_customer_history) AS one_row;

-- Stores and channels change rarely and keep no history (SCD type 1): the natural integer
-- id is the key.
CREATE OR REFRESH MATERIALIZED VIEW dim_store
COMMENT 'Store dimension: the online store (0) and the physical stores, key -1 the unknown store'
AS SELECT store_id AS store_sk, store_id, store_name, store_type, city, state, region, opened_date
FROM bronze_stores
UNION ALL
SELECT -1, CAST(NULL AS INT), 'unknown', 'unknown', 'unknown', 'unknown', 'unknown', CAST(NULL AS DATE)
FROM (SELECT count(*) AS n FROM bronze_stores) AS one_row;

CREATE OR REFRESH MATERIALIZED VIEW dim_channel
COMMENT 'Sales channel dimension (online, physical store), key -1 the unknown channel'
AS SELECT channel_id AS channel_sk, channel_code, channel_name, is_online
FROM bronze_channels
UNION ALL
SELECT -1, 'unknown', 'unknown', CAST(NULL AS BOOLEAN)
FROM (SELECT count(*) AS n FROM bronze_channels) AS one_row;

-- The data's first and last day, of the order lines and of the events. Aggregates over
-- tables that only append, so they are kept incrementally: dim_date does not read every
-- order line and event again at each update.
CREATE OR REFRESH MATERIALIZED VIEW order_day_range
COMMENT 'First and last day of the order lines'
AS SELECT min(order_date) AS first_day, max(order_date) AS last_day FROM silver_order_lines;

CREATE OR REFRESH MATERIALIZED VIEW event_day_range
COMMENT 'First and last day of the click stream'
AS SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM silver_events;

-- Dates: one row per day over the data's range (first to last order or event day), made
-- with sequence() and explode. Holidays: Brazil's fixed-date national holidays.
CREATE OR REFRESH MATERIALIZED VIEW dim_date
COMMENT 'Date dimension over the data range: day, week, month, quarter, year, weekday, holiday'
AS SELECT CAST(date_format(date, 'yyyyMMdd') AS INT) AS date_key,
          date,
          day(date) AS day_of_month,
          weekofyear(date) AS week_of_year,
          month(date) AS month,
          date_format(date, 'MMMM') AS month_name,
          quarter(date) AS quarter,
          year(date) AS year,
          dayofweek(date) AS day_of_week,
          date_format(date, 'EEEE') AS weekday_name,
          dayofweek(date) IN (1, 7) AS is_weekend,
          date_format(date, 'MM-dd') IN ('01-01', '04-21', '05-01', '09-07', '10-12', '11-02', '11-15',
                                         '11-20', '12-25') AS is_holiday
FROM (
  SELECT explode(sequence(least(o.first_day, e.first_day), greatest(o.last_day, e.last_day),
                          INTERVAL 1 DAY)) AS date
  FROM (SELECT 1 AS k, first_day, last_day FROM order_day_range) AS o
  JOIN (SELECT 1 AS k, first_day, last_day FROM event_day_range) AS e ON e.k = o.k
) AS days;
