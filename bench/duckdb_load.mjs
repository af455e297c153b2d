// duckdb_load.mjs - the DuckDB peer of the ingest benchmark: loads a CSV into a table of an
// in-memory database with DuckDB's COPY ... FROM, through @duckdb/node-api (DuckDB's own
// C engine; Node only issues the statements).
//
// usage: node duckdb_load.mjs --csv DATA.csv --ddl CREATE.sql [--threads 2] [--expect-rows N]
//
// Prints one line of JSON on stdout:
//   {"duckdb":"v1.x","threads":2,"rows":N,"copy_seconds":S,"rss_before_copy_kb":K}
// copy_seconds times the COPY statement alone (not Node's start-up, opening the database or
// CREATE TABLE). rss_before_copy_kb is the process's resident size just before the COPY,
// i.e. the cost of Node and DuckDB themselves, so a reader can tell it apart from the peak
// that the caller measures. Exits 1 (with a message on stderr) if DuckDB fails or the row
// count is not the expected one.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

function usage(msg) {
  process.stderr.write(`duckdb_load: ${msg}\nusage: node duckdb_load.mjs --csv DATA.csv ` +
    '--ddl CREATE.sql [--threads N] [--expect-rows N]\n');
  process.exit(2);
}

const opts = { threads: '2' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i], v = argv[i + 1];
  if (v === undefined) usage(`${k} needs a value`);
  if (k === '--csv') opts.csv = v;
  else if (k === '--ddl') opts.ddl = v;
  else if (k === '--threads') opts.threads = v;
  else if (k === '--expect-rows') opts.expect = v;
  else usage(`unknown option '${k}'`);
}
if (!opts.csv || !opts.ddl) usage('--csv and --ddl are required');
if (!/^[1-9][0-9]*$/.test(opts.threads)) {
  usage(`--threads must be a positive integer, not '${opts.threads}'`);
}

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

try {
  const ddl = readFileSync(opts.ddl, 'utf8');
  const csv = resolve(opts.csv);
  const instance = await DuckDBInstance.create(':memory:', { threads: opts.threads });
  const con = await instance.connect();
  await con.run(ddl);
  const [version, threads] = (await con.runAndReadAll(
    "SELECT version(), current_setting('threads')")).getRows()[0];

  // The same CSV rules as mc2: header row, ',' and '"' with doubled quotes, an unquoted
  // empty field is NULL and a quoted one ("") is the empty string. No sniffing.
  const copy = `COPY t FROM ${sqlString(csv)} (FORMAT csv, HEADER true, AUTO_DETECT false, ` +
    `DELIMITER ',', QUOTE '"', ESCAPE '"', NULLSTR '', ALLOW_QUOTED_NULLS false)`;
  const rssBefore = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  await con.run(copy);
  const t1 = process.hrtime.bigint();

  const rows = (await con.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0];
  if (opts.expect !== undefined && String(rows) !== opts.expect) {
    process.stderr.write(`duckdb_load: loaded ${rows} rows, expected ${opts.expect}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({
    duckdb: version,
    threads: Number(threads),
    rows: Number(rows),
    copy_seconds: Number(t1 - t0) / 1e9,
    rss_before_copy_kb: Math.round(rssBefore / 1024),
  }) + '\n');
  con.closeSync();
  instance.closeSync?.();
} catch (e) {
  process.stderr.write(`duckdb_load: ${e.message ?? e}\n`);
  process.exit(1);
}
