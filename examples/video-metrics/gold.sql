-- Gold: the seed's two business tables, per day. Both are published to PostgreSQL and
-- exported as one CSV file per day (pipeline.yaml, publish:).
CREATE OR REFRESH MATERIALIZED VIEW gold_views_per_day_network
COMMENT 'Views, likes, comments and shares gained per day and network, and how many posts were observed'
AS SELECT day, network,
          sum(views) AS views, sum(likes) AS likes, sum(comments) AS comments, sum(shares) AS shares,
          count(*) AS posts_observed
FROM silver_post_day_views
GROUP BY day, network;

-- The institution's name, category and city come from its posts' creation events
-- (observations carry the institution's id only).
CREATE OR REFRESH MATERIALIZED VIEW gold_views_per_day_institution
COMMENT 'Views, likes, comments and shares gained per day and institution'
AS SELECT v.day, v.institution_id, i.institution_name, i.category, i.city, i.state,
          sum(v.views) AS views, sum(v.likes) AS likes, sum(v.comments) AS comments, sum(v.shares) AS shares,
          count(*) AS posts_observed
FROM silver_post_day_views AS v
LEFT JOIN (SELECT institution_id, max(institution_name) AS institution_name,
                  max(institution_category) AS category, max(city) AS city, max(state) AS state
           FROM silver_criacao GROUP BY institution_id) AS i
  ON i.institution_id = v.institution_id
GROUP BY v.day, v.institution_id, i.institution_name, i.category, i.city, i.state;
