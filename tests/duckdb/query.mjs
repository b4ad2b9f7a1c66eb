// Runs the SQL in the file named by argv[2] with DuckDB and prints each result row as one
// JSON object per line. Used by the C++ tests as an independent reader of lakepipe's files.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const sql = readFileSync(process.argv[2], 'utf8');
const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
const reader = await conn.runAndReadAll(sql);
const rows = reader.getRowObjectsJson();
const out = [];
for (const row of rows) out.push(JSON.stringify(row));
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
