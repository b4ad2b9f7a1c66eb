-- Gold: revenue (Price * Quantity) by country with a 10-minute watermark on
-- ingestion_time. A streaming aggregate needs a time window to know when a result is
-- final: each 10-minute window of ingestion time is written once, when the watermark
-- (the latest ingestion_time minus 10 minutes) passes its end.
CREATE OR REFRESH STREAMING TABLE gold_revenue_by_country
COMMENT 'Revenue by country per 10 minutes of ingestion time'
AS SELECT window.start AS window_start, window.end AS window_end, Country,
          round(sum(Price * Quantity), 2) AS total_revenue, count(*) AS order_lines
FROM STREAM(silver_orders) WATERMARK ingestion_time DELAY OF INTERVAL 10 MINUTES
GROUP BY window(ingestion_time, '10 minutes'), Country;
