// duckdb_tpch.mjs - the DuckDB peer of the TPC-H benchmark: loads the eight .tbl files of
// `mc2 gen tpch` into tables of an in-memory database (types from mc2's schemas/tpch), then
// runs q1..q22 of a query directory (tests/data/tpch/queries, unchanged), through
// @duckdb/node-api (DuckDB's own C engine; Node only issues the statements).
//
// usage: node duckdb_tpch.mjs --data DIR --schemas DIR --queries DIR [--threads 2] [--runs 3]
//
// Prints "duckdb VERSION threads N" (N read back with current_setting('threads') after
// SET threads), "load_s S", then one line per query,
// "qN rows R ms T nonnull C" (the best of RUNS timed runs after one untimed warm-up, each
// run materializing every row of the result; C counts the result's cells that are not NULL)
// or "qN error MESSAGE", and last
// "rss_before_load_kb K" (Node and DuckDB themselves, before any data). Exits 1 if the
// tables cannot be loaded, after a line "fatal MESSAGE" (also on stderr). Progress, one line
// per query, goes to stderr.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const TABLES = ['region', 'nation', 'supplier', 'customer', 'part', 'partsupp', 'orders',
  'lineitem'];

function usage(msg) {
  process.stderr.write(`duckdb_tpch: ${msg}\nusage: node duckdb_tpch.mjs --data DIR ` +
    '--schemas DIR --queries DIR [--threads N] [--runs N]\n');
  process.exit(2);
}

const opts = { threads: '2', runs: '3' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i], v = argv[i + 1];
  if (v === undefined) usage(`${k} needs a value`);
  if (k === '--data') opts.data = v;
  else if (k === '--schemas') opts.schemas = v;
  else if (k === '--queries') opts.queries = v;
  else if (k === '--threads') opts.threads = v;
  else if (k === '--runs') opts.runs = v;
  else usage(`unknown option '${k}'`);
}
if (!opts.data || !opts.schemas || !opts.queries) usage('--data, --schemas, --queries required');
for (const k of ['threads', 'runs']) {
  if (!/^[1-9][0-9]*$/.test(opts[k])) usage(`--${k} must be a positive integer`);
}

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

// mc2's schema YAML (schemas/tpch/*.yaml): "- name: X" then "type: T" lines. INT64 becomes
// BIGINT; DECIMAL(p,s), DATE and VARCHAR(n) are the same in DuckDB.
function ddl(table) {
  const text = readFileSync(resolve(opts.schemas, `${table}.yaml`), 'utf8');
  const cols = [];
  for (const line of text.split('\n')) {
    let m = line.match(/^\s*-\s*name:\s*(\S+)/);
    if (m) { cols.push({ name: m[1] }); continue; }
    m = line.match(/^\s*type:\s*(.+?)\s*$/);
    if (m && cols.length) cols[cols.length - 1].type = m[1] === 'INT64' ? 'BIGINT' : m[1];
  }
  if (!cols.length || cols.some((c) => !c.type)) throw new Error(`cannot read ${table}.yaml`);
  // The .tbl layout ends every line with '|': one extra column takes the empty last field
  // and is dropped after the load.
  return `CREATE TABLE ${table} (${cols.map((c) => `${c.name} ${c.type} NOT NULL`).join(', ')}, ` +
    'trailing_bar VARCHAR)';
}

const rssBefore = Math.round(process.memoryUsage().rss / 1024);
let instance, con;
try {
  instance = await DuckDBInstance.create(':memory:', { threads: opts.threads });
  con = await instance.connect();
  await con.run(`SET threads = ${Number(opts.threads)}`);
  const [version, threads] = (await con.runAndReadAll(
    "SELECT version(), current_setting('threads')")).getRows()[0];
  process.stdout.write(`duckdb ${version} threads ${threads}\n`);
  const t0 = process.hrtime.bigint();
  process.stderr.write('duckdb_tpch: loading the tables ...\n');
  for (const t of TABLES) {
    await con.run(ddl(t));
    await con.run(`COPY ${t} FROM ${sqlString(resolve(opts.data, `${t}.tbl`))} (FORMAT csv, ` +
      "HEADER false, AUTO_DETECT false, DELIMITER '|', QUOTE '', ESCAPE '')");
    await con.run(`ALTER TABLE ${t} DROP COLUMN trailing_bar`);
  }
  const t1 = process.hrtime.bigint();
  process.stdout.write(`load_s ${(Number(t1 - t0) / 1e9).toFixed(2)}\n`);
} catch (e) {
  const msg = String(e.message ?? e).replaceAll('\n', ' ');
  process.stdout.write(`fatal loading: ${msg}\n`);
  process.stderr.write(`duckdb_tpch: loading: ${msg}\n`);
  process.exit(1);
}

for (let q = 1; q <= 22; q++) {
  const sql = readFileSync(resolve(opts.queries, `q${q}.sql`), 'utf8');
  process.stderr.write(`duckdb_tpch: q${q}: 1 warm-up + ${opts.runs} runs ... `);
  try {
    let best = Infinity, rows = -1, nonnull = 0;
    for (let run = 0; run <= Number(opts.runs); run++) {
      const t0 = process.hrtime.bigint();
      const reader = await con.runAndReadAll(sql);
      const all = reader.getRows();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const n = all.length;
      if (run === 0) { // warm-up
        rows = n;
        for (const r of all) for (const v of r) nonnull += v !== null;
        continue;
      }
      if (n !== rows) throw new Error(`${rows} rows in one run, ${n} in another`);
      if (ms < best) best = ms;
    }
    process.stdout.write(`q${q} rows ${rows} ms ${best.toFixed(3)} nonnull ${nonnull}\n`);
    process.stderr.write(`${best.toFixed(1)} ms, ${rows} rows\n`);
  } catch (e) {
    const msg = String(e.message ?? e).replaceAll('\n', ' ');
    process.stdout.write(`q${q} error ${msg}\n`);
    process.stderr.write(`FAILED: ${msg}\n`);
  }
}
process.stdout.write(`rss_before_load_kb ${rssBefore}\n`);
con.closeSync();
instance.closeSync?.();
