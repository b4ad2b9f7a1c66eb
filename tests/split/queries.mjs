// The split-invariance corpus (docs/crash-testing.md, "Split invariance"): one entry per query.
// Adding a query is adding an entry here; tests/split/split_invariance.mjs runs every entry
// over the whole input at once, over random micro-batches, one row per batch, and with
// SIGKILLs, and compares each result (and its `<name>_late` table) with the whole-input run
// and with DuckDB's `expected` (and `late`) over the whole input.
//
// An entry:
//   name      the pipeline table (lower case); its late rows are `<name>_late`
//   kind      'st' (CREATE OR REFRESH STREAMING TABLE) or 'mv' (MATERIALIZED VIEW)
//   sql       the table's query. The pipeline always defines the streaming tables `ev` and
//             `cl` (every event / click, in input order); `${events}` and `${clicks}` stand
//             for the raw `STREAM read_files(...)` scans (with the layout's batch size).
//   expected  DuckDB SQL over the views `events` and `clicks` (the whole input, typed as
//             below, `seq` = input order): the rows the table must hold.
//   late      DuckDB SQL for `<name>_late` (the late rows with `_late_reason`), or absent
//             when the query has no watermark (the table must then not exist).
//
// The input: `events(seq INT, k STRING, ts TIMESTAMP, v INT, x DOUBLE, s STRING)` and
// `clicks(seq INT, k STRING, cts TIMESTAMP, w STRING)` — keys k0..k3 with some NULLs, event
// times on a clock moving forward, out of order by up to 25 minutes, a few rows far behind
// (late for every delay used here) and a few without an event time.

export const EVENTS_SCHEMA = 'seq INT, k STRING, ts TIMESTAMP, v INT, x DOUBLE, s STRING';
export const CLICKS_SCHEMA = 'seq INT, k STRING, cts TIMESTAMP, w STRING';
export const DUCK_EVENTS_COLUMNS = "{'seq': 'INTEGER', 'k': 'VARCHAR', 'ts': 'TIMESTAMP', 'v': 'INTEGER', 'x': 'DOUBLE', 's': 'VARCHAR'}";
export const DUCK_CLICKS_COLUMNS = "{'seq': 'INTEGER', 'k': 'VARCHAR', 'cts': 'TIMESTAMP', 'w': 'VARCHAR'}";

// DuckDB helpers restating docs/sql-reference.md "Streaming semantics": a row is late when
// its event time is below the largest event time of the rows before it (in input order,
// among the rows reaching the watermarked operator) minus the delay.
const fmt = (e) => `strftime(${e}, '%Y-%m-%d %H:%M:%S')`;
// `src` (a view or a parenthesized query with `seq`) with `_wm`, the watermark before each row.
export function withWatermark(src, col, minutes) {
  return `(SELECT *, max(${col}) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) ` +
    `- INTERVAL ${minutes} MINUTE AS _wm FROM ${src})`;
}
export const onTime = (col) => `NOT coalesce(${col} < _wm, false)`;
export const isLate = (col) => `coalesce(${col} < _wm, false)`;
// `prefix`: a stream-stream join names the side ("left join input STREAM(ev): ").
export const lateReason = (col, prefix = '') => `'${prefix}${col} ' || ${fmt(col)} || ' is behind the watermark ' || ${fmt('_wm')} || ` +
  `' (the latest ${col} before it minus the WATERMARK delay)' AS _late_reason`;

// A stream-stream join of events (left, delay `ld`) and clicks (right, delay `rd`) on k with
// `lower <= cts - ts <= upper` (minutes; `strict` makes both ends strict) and an optional
// residual, as docs/sql-reference.md "Stream-stream joins" defines it: late rows (per side)
// never join; a LEFT join writes an unmatched on-time left row once the final right
// watermark has passed ts + upper, or at once when its key or event time is NULL.
function streamJoin({ left = false, ld, rd, lower, upper, strict = false, residual = 'true', select }) {
  const lo = strict ? '<' : '<=';
  const l = `(SELECT * FROM ${withWatermark('events', 'ts', ld)} WHERE ${onTime('ts')})`;
  const r = `(SELECT * FROM ${withWatermark('clicks', 'cts', rd)} WHERE ${onTime('cts')})`;
  const cond = `v.k = c.k AND v.ts + INTERVAL (${lower}) MINUTE ${lo} c.cts AND c.cts ${lo} v.ts + INTERVAL (${upper}) MINUTE AND ${residual}`;
  let sql = `SELECT ${select} FROM ${l} v JOIN ${r} c ON ${cond}`;
  if (left) {
    sql += ` UNION ALL SELECT ${select} FROM ${l} v LEFT JOIN (SELECT NULL::INTEGER AS seq, NULL::VARCHAR AS k, ` +
      `NULL::TIMESTAMP AS cts, NULL::VARCHAR AS w) c ON false ` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${r} c WHERE ${cond}) AND (v.k IS NULL OR v.ts IS NULL OR ` +
      `v.ts + INTERVAL (${upper}) MINUTE < (SELECT max(cts) - INTERVAL ${rd} MINUTE FROM clicks))`;
  }
  return sql;
}
// The late rows of such a join: each side's late rows, the other side's columns NULL.
// `<landing>` stands for the run's landing folder (the harness replaces it in every value).
function streamJoinLate({ ld, rd, leftCols = 'seq, k, ts, v, x, s', rightCols = 'seq, k, cts, w', files = false }) {
  const ls = files ? "read_files('<landing>/events')" : 'STREAM(ev)';
  const rs = files ? "read_files('<landing>/clicks')" : 'STREAM(cl)';
  return `SELECT ${leftCols}, NULL::TIMESTAMP AS cts, NULL::VARCHAR AS w, ${lateReason('ts', `left join input ${ls.replaceAll("'", "''")}: `)} ` +
    `FROM ${withWatermark('events', 'ts', ld)} WHERE ${isLate('ts')} UNION ALL BY NAME ` +
    `SELECT ${rightCols}, NULL::TIMESTAMP AS ts, NULL::INTEGER AS v, NULL::DOUBLE AS x, NULL::VARCHAR AS s, ` +
    `${lateReason('cts', `right join input ${rs.replaceAll("'", "''")}: `)} ` +
    `FROM ${withWatermark('clicks', 'cts', rd)} WHERE ${isLate('cts')}`;
}

const JOIN_SELECT = 'v.seq, v.k, v.ts, v.v, c.seq AS cseq, c.cts, c.w';

export const QUERIES = [
  // ----- streaming tables without state ------------------------------------------------
  {
    name: 'st_project', kind: 'st',
    sql: `SELECT seq, k, v * 2 AS v2, ts + INTERVAL 90 MINUTES AS later, upper(s) AS s FROM STREAM(ev) WHERE v > 10 OR v IS NULL`,
    expected: `SELECT seq, k, v * 2 AS v2, ts + INTERVAL 90 MINUTE AS later, upper(s) AS s FROM events WHERE v > 10 OR v IS NULL`,
  },
  {
    name: 'st_time_functions', kind: 'st',
    sql: `SELECT seq, date_trunc('HOUR', ts) AS h, date_trunc('MINUTE', ts) AS m, trunc(CAST(ts AS DATE), 'MM') AS month_start,
            date_add(CAST(ts AS DATE), 3) AS d3, date_sub(CAST(ts AS DATE), 40) AS dm40,
            datediff(CAST(ts AS DATE), DATE'2025-12-01') AS days_since,
            timestampadd(MINUTE, 45, ts) AS plus45, timestampdiff(MINUTE, TIMESTAMP'2026-01-01 00:00:00', ts) AS minutes_in,
            ts + make_interval(0, 0, 0, 1, 2, 3, 4) AS shifted, ts - INTERVAL '2' HOUR AS minus2h
          FROM STREAM(ev)`,
    expected: `SELECT seq, date_trunc('hour', ts) AS h, date_trunc('minute', ts) AS m, date_trunc('month', ts)::DATE AS month_start,
            ts::DATE + 3 AS d3, ts::DATE - 40 AS dm40, datediff('day', DATE '2025-12-01', ts::DATE) AS days_since,
            ts + INTERVAL 45 MINUTE AS plus45, date_sub('minute', TIMESTAMP '2026-01-01 00:00:00', ts) AS minutes_in,
            ts + INTERVAL '1 day 2 hours 3 minutes 4 seconds' AS shifted, ts - INTERVAL 2 HOUR AS minus2h FROM events`,
  },
  {
    name: 'st_union_all', kind: 'st',
    sql: `SELECT seq, k FROM STREAM(ev) UNION ALL SELECT seq, k FROM STREAM(cl)`,
    expected: `SELECT seq, k FROM events UNION ALL SELECT seq, k FROM clicks`,
  },
  // ----- streaming DISTINCT ------------------------------------------------------------
  {
    name: 'st_distinct', kind: 'st',
    sql: `SELECT DISTINCT k, v FROM STREAM(ev)`,
    expected: `SELECT DISTINCT k, v FROM events`,
  },
  {
    name: 'st_union_distinct', kind: 'st',
    sql: `SELECT k FROM STREAM(ev) UNION SELECT k FROM STREAM(cl)`,
    expected: `SELECT k FROM events UNION SELECT k FROM clicks`,
  },
  {
    name: 'st_distinct_wm', kind: 'st',
    sql: `SELECT DISTINCT k, ts FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 10 MINUTES`,
    expected: `SELECT DISTINCT k, ts FROM ${withWatermark('events', 'ts', 10)} WHERE ${onTime('ts')}`,
    late: `SELECT k, ts, ${lateReason('ts')} FROM ${withWatermark('events', 'ts', 10)} WHERE ${isLate('ts')}`,
  },
  {
    name: 'st_distinct_wm_files', kind: 'st',
    sql: `SELECT DISTINCT ts, k, s FROM \${events} WATERMARK ts DELAY OF INTERVAL 3 MINUTES`,
    expected: `SELECT DISTINCT ts, k, s FROM ${withWatermark('events', 'ts', 3)} WHERE ${onTime('ts')}`,
    late: `SELECT ts, k, s, ${lateReason('ts')} FROM ${withWatermark('events', 'ts', 3)} WHERE ${isLate('ts')}`,
  },
  {
    name: 'st_distinct_wm_filtered', kind: 'st',
    sql: `SELECT DISTINCT k, ts FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 20 MINUTES WHERE v >= 30`,
    expected: `SELECT DISTINCT k, ts FROM ${withWatermark('(SELECT * FROM events WHERE v >= 30)', 'ts', 20)} WHERE ${onTime('ts')}`,
    late: `SELECT k, ts, ${lateReason('ts')} FROM ${withWatermark('(SELECT * FROM events WHERE v >= 30)', 'ts', 20)} WHERE ${isLate('ts')}`,
  },
  {
    name: 'st_distinct_wm_clicks', kind: 'st',
    sql: `SELECT DISTINCT cts, k FROM STREAM(cl) WATERMARK cts DELAY OF INTERVAL 1 MINUTES`,
    expected: `SELECT DISTINCT cts, k FROM ${withWatermark('clicks', 'cts', 1)} WHERE ${onTime('cts')}`,
    late: `SELECT cts, k, ${lateReason('cts')} FROM ${withWatermark('clicks', 'cts', 1)} WHERE ${isLate('cts')}`,
  },
  // ----- stream-stream joins -----------------------------------------------------------
  {
    name: 'sj_inner', kind: 'st',
    sql: `SELECT ${JOIN_SELECT} FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 10 MINUTES AS v
          JOIN STREAM(cl) WATERMARK cts DELAY OF INTERVAL 15 MINUTES AS c
          ON v.k = c.k AND c.cts BETWEEN v.ts AND v.ts + INTERVAL 20 MINUTES`,
    expected: streamJoin({ ld: 10, rd: 15, lower: 0, upper: 20, select: JOIN_SELECT }),
    late: streamJoinLate({ ld: 10, rd: 15 }),
  },
  {
    name: 'sj_left', kind: 'st',
    sql: `SELECT ${JOIN_SELECT} FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 10 MINUTES AS v
          LEFT JOIN STREAM(cl) WATERMARK cts DELAY OF INTERVAL 15 MINUTES AS c
          ON v.k = c.k AND c.cts BETWEEN v.ts AND v.ts + INTERVAL 20 MINUTES`,
    expected: streamJoin({ left: true, ld: 10, rd: 15, lower: 0, upper: 20, select: JOIN_SELECT }),
    late: streamJoinLate({ ld: 10, rd: 15 }),
  },
  {
    name: 'sj_inner_around', kind: 'st',
    sql: `SELECT ${JOIN_SELECT} FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 5 MINUTES AS v
          JOIN STREAM(cl) WATERMARK cts DELAY OF INTERVAL 30 MINUTES AS c
          ON c.k = v.k AND c.cts >= v.ts - INTERVAL 10 MINUTES AND c.cts <= v.ts + INTERVAL 5 MINUTES`,
    expected: streamJoin({ ld: 5, rd: 30, lower: -10, upper: 5, select: JOIN_SELECT }),
    late: streamJoinLate({ ld: 5, rd: 30 }),
  },
  {
    name: 'sj_left_around', kind: 'st',
    sql: `SELECT ${JOIN_SELECT} FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 5 MINUTES AS v
          LEFT OUTER JOIN STREAM(cl) WATERMARK cts DELAY OF INTERVAL 30 MINUTES AS c
          ON c.k = v.k AND c.cts >= v.ts - INTERVAL 10 MINUTES AND c.cts <= v.ts + INTERVAL 5 MINUTES`,
    expected: streamJoin({ left: true, ld: 5, rd: 30, lower: -10, upper: 5, select: JOIN_SELECT }),
    late: streamJoinLate({ ld: 5, rd: 30 }),
  },
  {
    name: 'sj_inner_strict_residual', kind: 'st',
    sql: `SELECT ${JOIN_SELECT} FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 20 MINUTES AS v
          JOIN STREAM(cl) WATERMARK cts DELAY OF INTERVAL 20 MINUTES AS c
          ON v.k = c.k AND c.cts > v.ts AND c.cts < timestampadd(MINUTE, 30, v.ts) AND v.v < 60`,
    expected: streamJoin({ ld: 20, rd: 20, lower: 0, upper: 30, strict: true, residual: 'v.v < 60', select: JOIN_SELECT }),
    late: streamJoinLate({ ld: 20, rd: 20 }),
  },
  {
    name: 'sj_left_residual', kind: 'st',
    sql: `SELECT ${JOIN_SELECT} FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 20 MINUTES AS v
          LEFT JOIN STREAM(cl) WATERMARK cts DELAY OF INTERVAL 10 MINUTES AS c
          ON v.k = c.k AND c.cts > v.ts AND c.cts < timestampadd(MINUTE, 30, v.ts) AND c.w <> 'w3'`,
    expected: streamJoin({ left: true, ld: 20, rd: 10, lower: 0, upper: 30, strict: true, residual: "c.w <> 'w3'", select: JOIN_SELECT }),
    late: streamJoinLate({ ld: 20, rd: 10 }),
  },
  {
    name: 'sj_left_files', kind: 'st',
    sql: `SELECT v.seq, v.k, v.ts, c.seq AS cseq, timestampdiff(SECOND, v.ts, c.cts) AS gap
          FROM \${events} WATERMARK ts DELAY OF INTERVAL 10 MINUTES AS v
          LEFT JOIN \${clicks} WATERMARK cts DELAY OF INTERVAL 10 MINUTES AS c
          ON v.k = c.k AND c.cts BETWEEN v.ts - INTERVAL 5 MINUTES AND v.ts + INTERVAL 15 MINUTES`,
    expected: streamJoin({ left: true, ld: 10, rd: 10, lower: -5, upper: 15,
      select: 'v.seq, v.k, v.ts, c.seq AS cseq, date_sub(\'second\', v.ts, c.cts) AS gap' }),
    // The raw scans carry `_rescued_data` (NULL here: every line parses).
    late: `SELECT *, NULL::VARCHAR AS _rescued_data FROM (${streamJoinLate({ ld: 10, rd: 10, files: true })})`,
  },
  {
    name: 'sj_inner_projected', kind: 'st',
    sql: `SELECT v.k, v.ts, c.cts, v.v + length(c.w) AS score
          FROM (SELECT k, ts, v FROM STREAM(ev) WHERE v IS NOT NULL) WATERMARK ts DELAY OF INTERVAL 15 MINUTES AS v
          JOIN (SELECT k, cts, w FROM STREAM(cl)) WATERMARK cts DELAY OF INTERVAL 15 MINUTES AS c
          ON v.k = c.k AND c.cts BETWEEN v.ts AND v.ts + INTERVAL 1 HOUR`,
    expected: `SELECT v.k, v.ts, c.cts, v.v + length(c.w) AS score
          FROM (SELECT * FROM ${withWatermark('(SELECT * FROM events WHERE v IS NOT NULL)', 'ts', 15)} WHERE ${onTime('ts')}) v
          JOIN (SELECT * FROM ${withWatermark('clicks', 'cts', 15)} WHERE ${onTime('cts')}) c
          ON v.k = c.k AND c.cts BETWEEN v.ts AND v.ts + INTERVAL 1 HOUR`,
    late: `SELECT k, ts, v, NULL::TIMESTAMP AS cts, NULL::VARCHAR AS w, ${lateReason('ts', 'left join input STREAM(ev): ')}
           FROM ${withWatermark('(SELECT * FROM events WHERE v IS NOT NULL)', 'ts', 15)} WHERE ${isLate('ts')}
           UNION ALL SELECT k, NULL, NULL, cts, w, ${lateReason('cts', 'right join input STREAM(cl): ')}
           FROM ${withWatermark('clicks', 'cts', 15)} WHERE ${isLate('cts')}`,
  },
  {
    name: 'st_over_join', kind: 'st',
    sql: `SELECT seq, cseq, k FROM STREAM(sj_inner) WHERE v > 20`,
    expected: `SELECT seq, cseq, k FROM (${streamJoin({ ld: 10, rd: 15, lower: 0, upper: 20, select: JOIN_SELECT })}) WHERE v > 20`,
  },
  // ----- materialized views over the streaming tables (incremental or recomputed) -------
  {
    name: 'mv_group', kind: 'mv',
    sql: `SELECT k, sum(v) AS total, count(*) AS n, count(v) AS nv, avg(x) AS ax, min(ts) AS first_ts, max(ts) AS last_ts FROM ev GROUP BY k`,
    expected: `SELECT k, sum(v) AS total, count(*) AS n, count(v) AS nv, avg(x) AS ax, min(ts) AS first_ts, max(ts) AS last_ts FROM events GROUP BY k`,
  },
  {
    name: 'mv_global', kind: 'mv',
    sql: `SELECT count(*) AS n, sum(v) AS total, count(DISTINCT k) AS keys, max(x) AS hi FROM ev`,
    expected: `SELECT count(*) AS n, sum(v) AS total, count(DISTINCT k) AS keys, max(x) AS hi FROM events`,
  },
  {
    name: 'mv_having', kind: 'mv',
    sql: `SELECT k, s, count(*) AS n FROM ev GROUP BY k, s HAVING count(*) > 2`,
    expected: `SELECT k, s, count(*) AS n FROM events GROUP BY k, s HAVING count(*) > 2`,
  },
  {
    name: 'mv_count_if_filter', kind: 'mv',
    sql: `SELECT k, count_if(v > 50) AS big, sum(v) FILTER (WHERE x > 0) AS pos_total, count(*) FILTER (WHERE s = 'a') AS a_rows FROM ev GROUP BY k`,
    expected: `SELECT k, count_if(v > 50) AS big, sum(v) FILTER (WHERE x > 0) AS pos_total, count(*) FILTER (WHERE s = 'a') AS a_rows FROM events GROUP BY k`,
  },
  {
    name: 'mv_stats', kind: 'mv',
    sql: `SELECT k, stddev(x) AS sd, variance(x) AS var, stddev_pop(x) AS sdp, var_pop(x) AS vp FROM ev GROUP BY k`,
    expected: `SELECT k, stddev_samp(x) AS sd, var_samp(x) AS var, stddev_pop(x) AS sdp, var_pop(x) AS vp FROM events GROUP BY k`,
  },
  {
    name: 'mv_percentiles', kind: 'mv',
    sql: `SELECT k, percentile(v, 0.5) AS med, percentile(x, 0.25) AS q1, percentile_approx(v, 0.9) AS p90 FROM ev GROUP BY k`,
    // percentile_approx is computed exactly: the smallest value whose rank reaches ceil(p * n).
    expected: `SELECT k, quantile_cont(v, 0.5) AS med, quantile_cont(x, 0.25) AS q1,
                 (SELECT min(v2) FROM (SELECT v AS v2, row_number() OVER (ORDER BY v) AS rk, count(*) OVER () AS n FROM events e2
                   WHERE e2.k IS NOT DISTINCT FROM e.k AND v IS NOT NULL) WHERE rk >= ceil(0.9 * n)) AS p90
               FROM events e GROUP BY k`,
  },
  {
    name: 'mv_max_by', kind: 'mv',
    sql: `SELECT k, max_by(seq, v * 1000 + seq) AS top, min_by(s, v * 1000 + seq) AS bottom FROM ev GROUP BY k`,
    // Spark's min_by keeps a NULL x of the smallest ord (DuckDB's arg_min would skip it).
    expected: `SELECT k, arg_max(seq, v * 1000 + seq) AS top,
                 (list(s ORDER BY v * 1000 + seq) FILTER (WHERE v IS NOT NULL))[1] AS bottom FROM events GROUP BY k`,
  },
  {
    name: 'mv_collect', kind: 'mv',
    sql: `SELECT k, collect_set(s) AS kinds, count(v) AS nv FROM ev GROUP BY k`,
    expected: `SELECT k, list_sort(list(DISTINCT s) FILTER (WHERE s IS NOT NULL)) AS kinds, count(v) AS nv FROM events GROUP BY k`,
  },
  {
    name: 'mv_first_last', kind: 'mv',
    sql: `SELECT k, first(v) AS f, last(v) AS l, first(v, true) AS fnn, collect_list(seq) AS seqs FROM ev GROUP BY k`,
    expected: `SELECT k, first(v ORDER BY seq) AS f, last(v ORDER BY seq) AS l, first(v ORDER BY seq) FILTER (WHERE v IS NOT NULL) AS fnn,
                 list(seq ORDER BY seq) AS seqs FROM events GROUP BY k`,
  },
  {
    name: 'mv_rollup', kind: 'mv',
    sql: `SELECT k, s, sum(v) AS total, count(*) AS n, grouping_id() AS gid FROM ev GROUP BY ROLLUP(k, s)`,
    expected: `SELECT k, s, sum(v) AS total, count(*) AS n, grouping_id(k, s) AS gid FROM events GROUP BY ROLLUP(k, s)`,
  },
  {
    name: 'mv_cube', kind: 'mv',
    sql: `SELECT k, v > 50 AS big, count(*) AS n, grouping(k) AS gk FROM ev GROUP BY CUBE(k, v > 50)`,
    expected: `SELECT k, v > 50 AS big, count(*) AS n, grouping(k) AS gk FROM events GROUP BY CUBE(k, v > 50)`,
  },
  {
    name: 'mv_grouping_sets', kind: 'mv',
    sql: `SELECT k, s, max(x) AS hi, count(*) AS n FROM ev GROUP BY GROUPING SETS ((k), (s), ())`,
    expected: `SELECT k, s, max(x) AS hi, count(*) AS n FROM events GROUP BY GROUPING SETS ((k), (s), ())`,
  },
  {
    name: 'mv_group_by_all', kind: 'mv',
    sql: `SELECT k, date_trunc('HOUR', ts) AS hour, count(*) AS n, sum(v) AS total FROM ev GROUP BY ALL`,
    expected: `SELECT k, date_trunc('hour', ts) AS hour, count(*) AS n, sum(v) AS total FROM events GROUP BY ALL`,
  },
  {
    name: 'mv_distinct', kind: 'mv',
    sql: `SELECT DISTINCT k, s FROM ev`,
    expected: `SELECT DISTINCT k, s FROM events`,
  },
  {
    name: 'mv_join_agg', kind: 'mv',
    sql: `SELECT e.k, count(*) AS pairs, count(DISTINCT c.w) AS ws FROM ev e JOIN cl c ON e.k = c.k GROUP BY e.k`,
    expected: `SELECT e.k, count(*) AS pairs, count(DISTINCT c.w) AS ws FROM events e JOIN clicks c ON e.k = c.k GROUP BY e.k`,
  },
  {
    name: 'mv_left_join', kind: 'mv',
    sql: `SELECT e.seq, e.k, c.seq AS cseq FROM ev e LEFT JOIN cl c ON e.k = c.k AND c.cts BETWEEN e.ts AND e.ts + INTERVAL 5 MINUTES`,
    expected: `SELECT e.seq, e.k, c.seq AS cseq FROM events e LEFT JOIN clicks c ON e.k = c.k AND c.cts BETWEEN e.ts AND e.ts + INTERVAL 5 MINUTE`,
  },
  {
    name: 'mv_over_stream_join', kind: 'mv',
    sql: `SELECT k, count(*) AS matches, min(cts) AS first_click FROM sj_inner GROUP BY k`,
    expected: `SELECT k, count(*) AS matches, min(cts) AS first_click FROM (${streamJoin({ ld: 10, rd: 15, lower: 0, upper: 20, select: JOIN_SELECT })}) GROUP BY k`,
  },
  // ----- window functions in materialized views (recomputed) ---------------------------
  {
    name: 'mv_rank', kind: 'mv',
    sql: `SELECT seq, k, rank() OVER (PARTITION BY k ORDER BY v DESC) AS r, dense_rank() OVER (PARTITION BY k ORDER BY v DESC) AS dr,
            row_number() OVER (PARTITION BY k ORDER BY v DESC, seq) AS rn FROM ev`,
    expected: `SELECT seq, k, rank() OVER (PARTITION BY k ORDER BY v DESC NULLS LAST) AS r, dense_rank() OVER (PARTITION BY k ORDER BY v DESC NULLS LAST) AS dr,
            row_number() OVER (PARTITION BY k ORDER BY v DESC NULLS LAST, seq) AS rn FROM events`,
  },
  {
    name: 'mv_running', kind: 'mv',
    sql: `SELECT seq, sum(v) OVER (PARTITION BY k ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
            avg(x) OVER (PARTITION BY k ORDER BY seq ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS smooth FROM ev`,
    expected: `SELECT seq, sum(v) OVER (PARTITION BY k ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
            avg(x) OVER (PARTITION BY k ORDER BY seq ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS smooth FROM events`,
  },
  {
    name: 'mv_lag_lead', kind: 'mv',
    sql: `SELECT seq, lag(v) OVER (PARTITION BY k ORDER BY seq) AS prev, lead(v, 2, 0) OVER (PARTITION BY k ORDER BY seq) AS next2,
            first_value(s) OVER (PARTITION BY k ORDER BY seq) AS first_s FROM ev`,
    expected: `SELECT seq, lag(v) OVER (PARTITION BY k ORDER BY seq) AS prev, lead(v, 2, 0) OVER (PARTITION BY k ORDER BY seq) AS next2,
            first_value(s) OVER (PARTITION BY k ORDER BY seq) AS first_s FROM events`,
  },
  {
    name: 'mv_latest_per_key', kind: 'mv',
    sql: `SELECT k, seq, ts, v FROM ev QUALIFY row_number() OVER (PARTITION BY k ORDER BY ts DESC, seq DESC) = 1`,
    expected: `SELECT k, seq, ts, v FROM events QUALIFY row_number() OVER (PARTITION BY k ORDER BY ts DESC NULLS LAST, seq DESC) = 1`,
  },
  {
    name: 'mv_range_frame', kind: 'mv',
    sql: `SELECT seq, count(*) OVER (PARTITION BY k ORDER BY v RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING) AS near FROM ev`,
    expected: `SELECT seq, count(*) OVER (PARTITION BY k ORDER BY v NULLS FIRST RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING) AS near FROM events`,
  },
  {
    name: 'mv_rank_groups', kind: 'mv',
    sql: `SELECT k, sum(v) AS total, rank() OVER (ORDER BY sum(v) DESC) AS place FROM ev GROUP BY k`,
    expected: `SELECT k, sum(v) AS total, rank() OVER (ORDER BY sum(v) DESC NULLS LAST) AS place FROM events GROUP BY k`,
  },
  {
    name: 'mv_window_over_join', kind: 'mv',
    sql: `SELECT seq, cseq, row_number() OVER (PARTITION BY seq ORDER BY cts, cseq) AS nth_click FROM sj_inner`,
    expected: `SELECT seq, cseq, row_number() OVER (PARTITION BY seq ORDER BY cts, cseq) AS nth_click
               FROM (${streamJoin({ ld: 10, rd: 15, lower: 0, upper: 20, select: JOIN_SELECT })})`,
  },

  // ----- time windows (docs/sql-reference.md "Time windows") -----------------------------
  {
    name: 'tw_tumbling', kind: 'st',
    sql: `SELECT window.start AS ws, window.end AS we, k, sum(v) AS total, count(*) AS n
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(ts, '10 minutes'), k`,
    ...timeWindow({ size: 10, slide: 10, delay: 10, aggs: 'sum(v) AS total, count(*) AS n' }),
  },
  {
    name: 'tw_sliding', kind: 'st',
    sql: `SELECT window.start AS ws, window.end AS we, k, min(v) AS lo, max(v) AS hi, count(*) AS n
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 15 MINUTES GROUP BY window(ts, '10 minutes', '5 minutes'), k`,
    ...timeWindow({ size: 10, slide: 5, delay: 15, aggs: 'min(v) AS lo, max(v) AS hi, count(*) AS n' }),
  },
  {
    name: 'tw_offset', kind: 'st',
    sql: `SELECT window.start AS ws, window.end AS we, k, count(v) AS n, sum(x) AS sx
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 5 MINUTES GROUP BY window(ts, '20 minutes', '20 minutes', '7 minutes'), k`,
    ...timeWindow({ size: 20, slide: 20, offset: 7, delay: 5, aggs: 'count(v) AS n, sum(x) AS sx' }),
  },
  {
    name: 'tw_no_keys', kind: 'st',
    sql: `SELECT window.start AS ws, window.end AS we, count(*) AS n, avg(v) AS a
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(ts, '15 minutes')`,
    ...timeWindow({ size: 15, slide: 15, delay: 10, aggs: 'count(*) AS n, avg(v) AS a', keys: '' }),
  },
  {
    name: 'tw_filtered', kind: 'st',
    sql: `SELECT window.start AS ws, window.end AS we, k, sum(v) AS t
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 10 MINUTES WHERE v >= 20 GROUP BY window(ts, '10 minutes'), k`,
    ...timeWindow({ size: 10, slide: 10, delay: 10, aggs: 'sum(v) AS t', src: '(SELECT * FROM events WHERE v >= 20)' }),
  },
  {
    name: 'tw_sliding_stats', kind: 'st',
    sql: `SELECT window.start AS ws, window.end AS we, count_if(v > 50) AS big, max_by(seq, v) AS top
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 20 MINUTES GROUP BY window(ts, '30 minutes', '10 minutes')`,
    ...timeWindow({ size: 30, slide: 10, delay: 20, keys: '',
                    aggs: 'count(*) FILTER (WHERE v > 50) AS big, arg_max(seq, v) FILTER (WHERE v IS NOT NULL) AS top' }),
  },
  {
    name: 'mv_window', kind: 'mv',
    sql: `SELECT window.start AS ws, window.end AS we, k, count(*) AS n FROM ev GROUP BY window(ts, '10 minutes', '5 minutes'), k`,
    expected: `SELECT make_timestamp(st) AS ws, make_timestamp(st + 600000000) AS we, k, count(*) AS n FROM
               (SELECT e.*, (epoch_us(ts) - (epoch_us(ts) % 300000000 + 300000000) % 300000000) - j.j * 300000000 AS st
                FROM events e, range(0, 2) AS j(j) WHERE ts IS NOT NULL) WHERE st > epoch_us(ts) - 600000000 GROUP BY st, k
               UNION ALL SELECT NULL, NULL, k, count(*) FROM events WHERE ts IS NULL GROUP BY k`,
  },
  {
    name: 'ss_sessions', kind: 'st',
    sql: `SELECT session_window.start AS ss, session_window.end AS se, k, count(*) AS n, sum(v) AS t
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY session_window(ts, '5 minutes'), k`,
    ...sessionWindow({ gap: 5, delay: 10, aggs: 'count(*) AS n, sum(v) AS t' }),
  },
  {
    name: 'ss_wide_gap', kind: 'st',
    sql: `SELECT session_window.start AS ss, session_window.end AS se, count(*) AS n, max(x) AS hi
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 6 MINUTES GROUP BY session_window(ts, '2 minutes')`,
    ...sessionWindow({ gap: 2, delay: 6, aggs: 'count(*) AS n, max(x) AS hi', keys: '' }),
  },
  {
    name: 'ss_by_s', kind: 'st',
    sql: `SELECT session_window.start AS ss, session_window.end AS se, s, count(*) AS n, collect_set(k) AS ks
          FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 5 MINUTES GROUP BY session_window(ts, '8 minutes'), s`,
    ...sessionWindow({ gap: 8, delay: 5, key: 's', aggs: 'count(*) AS n, list_sort(list(DISTINCT k) FILTER (WHERE k IS NOT NULL)) AS ks' }),
  },
  {
    name: 'mv_sessions', kind: 'mv',
    sql: `SELECT session_window.start AS ss, session_window.end AS se, k, count(*) AS n, min(seq) AS f
          FROM ev GROUP BY session_window(ts, '5 minutes'), k`,
    expected: `WITH p AS (SELECT *, max(ts) OVER (PARTITION BY k ORDER BY ts, seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev
                          FROM events WHERE ts IS NOT NULL),
               q AS (SELECT *, sum(CASE WHEN prev IS NULL OR ts >= prev + INTERVAL 5 MINUTE THEN 1 ELSE 0 END)
                               OVER (PARTITION BY k ORDER BY ts, seq) AS sid FROM p)
               SELECT min(ts) AS ss, max(ts) + INTERVAL 5 MINUTE AS se, k, count(*) AS n, min(seq) AS f FROM q GROUP BY k, sid
               UNION ALL SELECT NULL, NULL, k, count(*), min(seq) FROM events WHERE ts IS NULL GROUP BY k`,
  },
  {
    name: 'dd_first', kind: 'st',
    sql: `SELECT seq, k, ts, v FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 10 MINUTES
          QUALIFY row_number() OVER (PARTITION BY k ORDER BY ts) = 1`,
    ...keyedDedup({ keys: ['k'], delay: 10, cols: 'seq, k, ts, v' }),
  },
  {
    name: 'dd_two_keys', kind: 'st',
    sql: `SELECT * FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 3 MINUTES
          QUALIFY row_number() OVER (PARTITION BY k, s ORDER BY ts) = 1`,
    ...keyedDedup({ keys: ['k', 's'], delay: 3, cols: 'seq, k, ts, v, x, s' }),
  },
  {
    name: 'dd_filtered', kind: 'st',
    sql: `SELECT seq, k, s, ts FROM STREAM(ev) WATERMARK ts DELAY OF INTERVAL 25 MINUTES WHERE v > 30
          QUALIFY row_number() OVER (PARTITION BY s ORDER BY ts) = 1`,
    ...keyedDedup({ keys: ['s'], delay: 25, cols: 'seq, k, s, ts', src: '(SELECT * FROM events WHERE v > 30)' }),
  },
];

// Session windows over `src` (minutes), docs/sql-reference.md "Time windows": rows not
// behind their watermark; per key in event-time order a row starts a new session at or
// after the key's latest earlier time + gap; written when the final watermark reaches the
// session's end (latest time + gap). Late: below the watermark, or no event time.
function sessionWindow({ gap, delay, aggs, key = 'k', keys = key, src = 'events' }) {
  const by = keys ? `PARTITION BY ${keys}` : '';
  const rows = `r AS (SELECT *, max(ts) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - INTERVAL ${delay} MINUTE AS w FROM ${src}),
    a AS (SELECT * FROM r WHERE ts IS NOT NULL AND (w IS NULL OR ts >= w)),
    p AS (SELECT *, max(ts) OVER (${by} ORDER BY ts, seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev FROM a),
    q AS (SELECT *, sum(CASE WHEN prev IS NULL OR ts >= prev + INTERVAL ${gap} MINUTE THEN 1 ELSE 0 END) OVER (${by} ORDER BY ts, seq) AS sid FROM p)`;
  return {
    expected: `WITH ${rows} SELECT min(ts) AS ss, max(ts) + INTERVAL ${gap} MINUTE AS se, ${keys ? keys + ', ' : ''}${aggs}
               FROM q GROUP BY ${keys ? keys + ', ' : ''}sid
               HAVING max(ts) + INTERVAL ${gap} MINUTE <= (SELECT max(ts) - INTERVAL ${delay} MINUTE FROM ${src})`,
    late: `WITH ${rows} SELECT seq, k, ts, v, x, s, CASE WHEN ts IS NULL THEN 'ts is NULL: the row belongs to no session'
             ELSE 'ts ' || ${fmt('ts')} || ' is behind the watermark ' || ${fmt('w')} ||
             ' (the latest ts before it minus the WATERMARK delay)' END AS _late_reason
           FROM r WHERE seq NOT IN (SELECT seq FROM a)`,
  };
}

// Keyed de-duplication (docs/sql-reference.md "Keyed de-duplication") over `src`: late
// below the row's watermark; per key the first on-time row is kept, the next kept row is
// the first whose watermark has passed the kept row's time; between two, a row with an
// earlier time than the kept one goes to the late table; no event time: late.
function keyedDedup({ keys, delay, cols, src = 'events' }) {
  const eq = keys.map((k) => `c.${k} IS NOT DISTINCT FROM em.${k}`).join(' AND ');
  const ks = keys.join(', ');
  const ctes = `WITH RECURSIVE
    r AS (SELECT *, max(ts) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - INTERVAL ${delay} MINUTE AS w FROM ${src}),
    c AS (SELECT * FROM r WHERE ts IS NOT NULL AND (w IS NULL OR ts >= w)),
    em AS (SELECT ${ks}, seq, ts FROM c QUALIFY row_number() OVER (PARTITION BY ${ks} ORDER BY seq) = 1
           UNION ALL SELECT ${keys.map((k) => 'c.' + k).join(', ')}, c.seq, c.ts FROM em JOIN c ON ${eq} AND c.seq > em.seq AND c.w > em.ts
           QUALIFY row_number() OVER (PARTITION BY ${keys.map((k) => 'c.' + k).join(', ')} ORDER BY c.seq) = 1),
    owner AS (SELECT c.*, em.seq AS kept_seq, em.ts AS kept_ts FROM c JOIN em ON ${eq} AND em.seq <= c.seq
              QUALIFY row_number() OVER (PARTITION BY c.seq ORDER BY em.seq DESC) = 1)`;
  return {
    expected: `${ctes} SELECT ${cols} FROM c WHERE seq IN (SELECT seq FROM em)`,
    late: `${ctes} SELECT seq, k, ts, v, x, s, CASE WHEN ts IS NULL THEN 'ts: the event time is NULL: the row''s key could never be forgotten'
             ELSE 'ts ' || ${fmt('ts')} || ' is behind the watermark ' || ${fmt('w')} || ' (the latest ts before it minus the WATERMARK delay)' END AS _late_reason
           FROM r WHERE seq NOT IN (SELECT seq FROM c)
           UNION ALL SELECT seq, k, ts, v, x, s, 'ts: a row of its key with a later event time (' || ${fmt('kept_ts')} ||
             ') arrived first and was kept; the first row by event time cannot replace it' FROM owner WHERE seq <> kept_seq AND ts < kept_ts`,
  };
}

// A time-window streaming table over `events` (minutes), as docs/sql-reference.md "Time
// windows" defines it: a row counts in each of its windows whose end is after the watermark
// before it, is late when there is none (or its time is NULL), and a window is written
// once the final watermark is at or past its end.
function timeWindow({ size, slide, delay, offset = 0, keys = 'k', src = 'events' }) {
  const M = 60_000_000, sz = size * M, sl = slide * M, d = delay * M, off = offset * M;
  const rows = `r AS (SELECT *, epoch_us(ts) AS t, max(epoch_us(ts)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${d} AS w FROM ${src}),
    x AS (SELECT r.*, (r.t - (((r.t - ${off}) % ${sl}) + ${sl}) % ${sl}) - j.j * ${sl} AS st FROM r, range(0, ${Math.ceil(size / slide)}) AS j(j) WHERE r.t IS NOT NULL),
    e AS (SELECT * FROM x WHERE st > t - ${sz} AND (w IS NULL OR st + ${sz} > w))`;
  const aggs = arguments[0].aggs;
  return {
    expected: `WITH ${rows} SELECT make_timestamp(st) AS ws, make_timestamp(st + ${sz}) AS we, ${keys ? keys + ', ' : ''}${aggs}
               FROM e GROUP BY st${keys ? ', ' + keys : ''} HAVING st + ${sz} <= (SELECT max(epoch_us(ts)) - ${d} FROM ${src})`,
    late: `WITH ${rows} SELECT seq, k, ts, v, x, s, CASE WHEN ts IS NULL THEN 'ts is NULL: the row belongs to no time window'
             ELSE 'ts ' || ${fmt('ts')} || ' is behind the watermark ' || ${fmt('make_timestamp(w)')} ||
             ' (the latest ts before it minus the WATERMARK delay) in every window it belongs to' END AS _late_reason
           FROM r WHERE seq NOT IN (SELECT seq FROM e)`,
  };
}
