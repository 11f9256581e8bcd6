/**
 * The SQLite SQL that peerpost's plugins (and its core) write, translated to PostgreSQL: pure functions.
 *
 * Statements (`translateStatement`): `?` and named parameters (`@name`, `:name`, `$name`) become `$n`;
 * `INSERT OR IGNORE` becomes `ON CONFLICT DO NOTHING`; `INSERT OR REPLACE` an upsert on the table's primary key that
 * sets every other column (as SQLite's delete-and-insert does); `X'..'` a bytea literal; a camelCase alias is quoted
 * (PostgreSQL folds unquoted names to lower case); `sqlite_master` a view of PostgreSQL's catalog; an INSERT into a
 * table with an identity column gets `RETURNING` it (lastInsertRowid). What needs the table's shape asks a
 * `Catalog`.
 *
 * Migrations (`translateDdl`): INTEGER → BIGINT (SQLite's INTEGER is 64-bit), an `INTEGER PRIMARY KEY` (SQLite's
 * rowid alias) → an identity column, BLOB → BYTEA, REAL → DOUBLE PRECISION, `WITHOUT ROWID` dropped, a rowid table
 * without a rowid alias gets a `rowid` identity column (so `ORDER BY rowid` and lastInsertRowid mean what they do on
 * SQLite), and a trigger becomes a PL/pgSQL function and its trigger.
 *
 * Only what the project writes is translated; anything else SQLite-specific is refused with an error naming the
 * statement (UnsupportedSqlError), never translated into something that means another thing.
 */

export class UnsupportedSqlError extends Error {
  readonly code = 'PG_UNSUPPORTED_SQL';
  constructor(why: string, sql: string) {
    super(`cannot run this SQLite statement on PostgreSQL: ${why}\n  in: ${oneLine(sql)}`);
  }
}

const oneLine = (sql: string) => {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

/** What the translator needs to know of a table (PostgreSQL's catalog; names in lower case). */
export interface TableInfo {
  /** Every column, in order. */
  columns: string[];
  primaryKey: string[];
  /** The identity column (from an INTEGER PRIMARY KEY, or the rowid added by translateDdl), if any. */
  identity?: string | undefined;
  /** The columns of each unique constraint or index other than the primary key (partial ones included). */
  unique: string[][];
}
export interface Catalog {
  table(name: string): TableInfo | undefined;
}

// ---- tokens ----------------------------------------------------------------------------------------------------

type Kind = 'word' | 'qident' | 'string' | 'blob' | 'number' | 'param' | 'punct' | 'space';
export interface Token {
  kind: Kind;
  text: string;
  /** word: upper case; param: its name ('' for `?`). */
  key: string;
}

const tok = (kind: Kind, text: string, key = ''): Token => ({ kind, text, key });

/** SQLite SQL as tokens; comments become a space, `...`/[...] identifiers become "...". */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const rest = sql.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^(?:\s+|--[^\n]*|\/\*[\s\S]*?\*\/)+/.exec(rest))) {
      out.push(tok('space', ' '));
      i += m[0].length;
    } else if ((c === 'x' || c === 'X') && sql[i + 1] === "'") {
      m = /^[xX]'([0-9A-Fa-f]*)'/.exec(rest);
      if (!m) throw new UnsupportedSqlError("a blob literal X'..' that is not hexadecimal digits", sql);
      if (m[1]!.length % 2) throw new UnsupportedSqlError('a blob literal with an odd number of hex digits', sql);
      out.push(tok('blob', `'\\x${m[1]!.toLowerCase()}'::bytea`));
      i += m[0].length;
    } else if (c === "'") {
      m = /^'(?:[^']|'')*'/.exec(rest);
      if (!m) throw new UnsupportedSqlError('a string literal that is not closed', sql);
      out.push(tok('string', m[0]));
      i += m[0].length;
    } else if (c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      const end = sql.indexOf(close, i + 1);
      if (end < 0) throw new UnsupportedSqlError('a quoted name that is not closed', sql);
      const name = sql.slice(i + 1, end);
      if (name.includes('"')) throw new UnsupportedSqlError('a quoted name holding a double quote', sql);
      out.push(tok('qident', `"${name}"`, name));
      i = end + 1;
    } else if (c === '?') {
      if (/^\?\d/.test(rest)) throw new UnsupportedSqlError('numbered parameters (?NNN)', sql);
      out.push(tok('param', '?', ''));
      i++;
    } else if ((m = /^[@:$]([A-Za-z_][A-Za-z0-9_]*)/.exec(rest)) && !(c === ':' && sql[i - 1] === ':')) {
      out.push(tok('param', m[0], m[1]!));
      i += m[0].length;
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(rest))) {
      out.push(tok('word', m[0], m[0].toUpperCase()));
      i += m[0].length;
    } else if ((m = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(rest))) {
      out.push(tok('number', m[0]));
      i += m[0].length;
    } else if ((m = /^(?:::|\|\||<=|>=|<>|!=|==|<<|>>)/.exec(rest))) {
      out.push(tok('punct', m[0] === '==' ? '=' : m[0]));
      i += m[0].length;
    } else {
      out.push(tok('punct', c));
      i++;
    }
  }
  return out;
}

/** Tokens that lost their spaces (solid), joined the way SQL is written. */
const spaced = (ts: readonly Token[]) =>
  ts.reduce((acc, t, i) => {
    const prev = ts[i - 1];
    const tight = !prev || prev.text === '(' || prev.text === '.' || t.text === ')' || t.text === ',' || t.text === '.';
    return acc + (tight ? '' : ' ') + t.text;
  }, '');
const join = (ts: readonly Token[]) =>
  ts
    .map((t) => t.text)
    .join('')
    .trim();
/** The tokens that are not spaces. */
const solid = (ts: readonly Token[]) => ts.filter((t) => t.kind !== 'space');
const isWord = (t: Token | undefined, ...keys: string[]) => t?.kind === 'word' && keys.includes(t.key);
/** A name (word or quoted), lower-cased as PostgreSQL folds it. */
const nameOf = (t: Token | undefined): string | undefined =>
  t?.kind === 'word' ? t.text.toLowerCase() : t?.kind === 'qident' ? t.key : undefined;

/** Split at top-level (outside parentheses) tokens matching `at`. */
function splitTop(ts: readonly Token[], at: (t: Token) => boolean): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of ts) {
    if (t.kind === 'punct' && t.text === '(') depth++;
    if (t.kind === 'punct' && t.text === ')') depth--;
    if (depth === 0 && at(t)) parts.push([]);
    else parts[parts.length - 1]!.push(t);
  }
  return parts;
}

/** SQLite-only functions and syntax that have no translation here. */
const UNSUPPORTED_FUNCTIONS = new Set([
  'IFNULL',
  'GROUP_CONCAT',
  'INSTR',
  'SUBSTR',
  'PRINTF',
  'RANDOMBLOB',
  'RANDOM',
  'TOTAL_CHANGES',
  'CHANGES',
  'LAST_INSERT_ROWID',
  'TYPEOF',
  'STRFTIME',
  'JULIANDAY',
  'DATETIME',
  'DATE',
  'TIME',
  'UNIXEPOCH',
  'JSON_EACH',
  'JSON_EXTRACT',
  'JSON_TREE',
  'JSON',
  'HEX',
  'UNHEX',
  'ZEROBLOB',
  'IIF',
  'LIKELY',
  'UNLIKELY',
  'TOTAL',
  'SNIPPET',
  'HIGHLIGHT',
  'BM25',
]);

function refuseSqliteOnly(ts: readonly Token[], sql: string): void {
  const s = solid(ts);
  s.forEach((t, i) => {
    if (t.kind !== 'word') return;
    const next = s[i + 1];
    if (UNSUPPORTED_FUNCTIONS.has(t.key) && next?.text === '(' && s[i - 1]?.text !== '.')
      throw new UnsupportedSqlError(`the SQLite function ${t.text}() has no translation`, sql);
    if (t.key === 'PRAGMA') throw new UnsupportedSqlError('PRAGMA is SQLite-only', sql);
    if (t.key === 'GLOB' || t.key === 'REGEXP' || t.key === 'MATCH')
      throw new UnsupportedSqlError(`${t.key} has no translation`, sql);
    if (t.key === 'LIKE')
      throw new UnsupportedSqlError(
        "LIKE ignores case on SQLite and not on PostgreSQL: compare lower(...) with '=' or write it for both",
        sql,
      );
    if (t.key === 'COLLATE') throw new UnsupportedSqlError("SQLite's collations have no translation", sql);
    if (t.key === 'IS' && !isWord(next, 'NULL', 'NOT', 'TRUE', 'FALSE', 'DISTINCT'))
      throw new UnsupportedSqlError("SQLite's IS between two values: write IS NOT DISTINCT FROM for both", sql);
    if (t.key === 'IS' && isWord(next, 'NOT') && !isWord(s[i + 2], 'NULL', 'TRUE', 'FALSE', 'DISTINCT'))
      throw new UnsupportedSqlError("SQLite's IS NOT between two values: write IS DISTINCT FROM", sql);
    if (/^SQLITE_/.test(t.key) && t.key !== 'SQLITE_MASTER' && t.key !== 'SQLITE_SCHEMA')
      throw new UnsupportedSqlError(`${t.text} is SQLite's own`, sql);
    if (t.key === 'AUTOINCREMENT' || t.key === 'WITHOUT')
      throw new UnsupportedSqlError(`${t.key} belongs in a migration (translateDdl)`, sql);
  });
}

/** PostgreSQL's catalog as SQLite's sqlite_master (tables and indexes of the current schema). */
export const SQLITE_MASTER_VIEW =
  `(SELECT 'table'::text AS type, tablename::text AS name, tablename::text AS tbl_name FROM pg_catalog.pg_tables ` +
  `WHERE schemaname = current_schema() UNION ALL SELECT 'index'::text, indexname::text, tablename::text ` +
  `FROM pg_catalog.pg_indexes WHERE schemaname = current_schema())`;

const CLAUSE_WORDS = new Set(['WHERE', 'ORDER', 'GROUP', 'LIMIT', 'JOIN', 'LEFT', 'INNER', 'CROSS', 'ON', 'UNION']);

/** The rewrites every statement gets: sqlite_master, camelCase aliases, `==`. Params stay tokens. */
function rewriteCommon(ts: Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    if (isWord(t, 'SQLITE_MASTER', 'SQLITE_SCHEMA')) {
      const next = solid(ts.slice(i + 1))[0];
      const aliased = next && (next.kind === 'qident' || (next.kind === 'word' && !CLAUSE_WORDS.has(next.key)));
      out.push(tok('punct', SQLITE_MASTER_VIEW + (aliased ? '' : ' AS sqlite_master')));
      continue;
    }
    out.push(t);
    // AS camelCase → AS "camelCase": the name the row's key has on SQLite.
    if (isWord(t, 'AS')) {
      let j = i + 1;
      while (ts[j]?.kind === 'space') out.push(ts[j++]!);
      const a = ts[j];
      // Mixed case only: an all-capitals word after AS is a type (CAST(? AS TEXT)), not a row key.
      if (a?.kind === 'word' && /[A-Z]/.test(a.text) && /[a-z]/.test(a.text)) {
        out.push(tok('qident', `"${a.text}"`, a.text));
        i = j;
      } else i = j - 1;
    }
  }
  return out;
}

/** `?`/named parameters → `$n`. */
function numberParams(ts: Token[], sql: string): { tokens: Token[]; positional: number; names: string[] } {
  let positional = 0;
  const names: string[] = [];
  const tokens = ts.map((t) => {
    if (t.kind !== 'param') return t;
    if (t.key === '') return tok('punct', `$${++positional}`);
    let k = names.indexOf(t.key);
    if (k < 0) k = names.push(t.key) - 1;
    return tok('punct', `$${k + 1}`);
  });
  if (positional && names.length)
    throw new UnsupportedSqlError('positional (?) and named parameters in one statement', sql);
  return { tokens, positional, names };
}

export interface Translated {
  /** PostgreSQL's text, parameters $1... */
  text: string;
  /** How many `?` (when the parameters are positional). */
  positional: number;
  /** The names of named parameters, in $n order (without their @, : or $). */
  names: string[];
  /** The column RETURNING was added for (lastInsertRowid), if any. */
  returning?: string;
  /** Whether the statement gives rows (SELECT, VALUES, WITH ... SELECT, RETURNING). */
  reader: boolean;
}

/** One SQLite statement (DML or a query) as PostgreSQL's. `catalog` answers for INSERT OR REPLACE and RETURNING. */
export function translateStatement(sql: string, catalog?: Catalog): Translated {
  let ts = tokenize(sql);
  // One statement: a trailing ';' only.
  const parts = splitTop(ts, (t) => t.kind === 'punct' && t.text === ';').filter((p) => solid(p).length > 0);
  if (parts.length > 1) throw new UnsupportedSqlError('more than one statement (use exec)', sql);
  ts = parts[0] ?? [];
  const s = solid(ts);
  if (!s.length) throw new UnsupportedSqlError('an empty statement', sql);
  refuseSqliteOnly(ts, sql);

  const first = s[0]!.key;
  // The statement's own words, outside parentheses (a WITH's CTEs and subqueries are inside them).
  const depths: number[] = [];
  let d = 0;
  for (const t of s) {
    if (t.text === '(') d++;
    depths.push(d);
    if (t.text === ')') d--;
  }
  const top = s.filter((_, i) => depths[i] === 0);
  const hasReturning = top.some((t) => isWord(t, 'RETURNING'));
  /** The main statement's kind: the first of SELECT/INSERT/... at the top level (after a WITH's CTEs). */
  const main = top.find((t) => isWord(t, 'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'VALUES', 'REPLACE'))?.key ?? first;
  let conflict = '';
  let returning: string | undefined;
  if (first === 'INSERT' || first === 'REPLACE') {
    let mode: 'plain' | 'ignore' | 'replace' = first === 'REPLACE' ? 'replace' : 'plain';
    let k = 1;
    if (first === 'INSERT' && isWord(s[1], 'OR')) {
      const how = s[2]?.key;
      if (how === 'IGNORE') mode = 'ignore';
      else if (how === 'REPLACE') mode = 'replace';
      else throw new UnsupportedSqlError(`INSERT OR ${s[2]?.text ?? ''} has no translation`, sql);
      k = 3;
    }
    if (!isWord(s[k], 'INTO')) throw new UnsupportedSqlError('an INSERT without INTO', sql);
    const table = nameOf(s[k + 1]);
    if (!table || s[k + 2]?.text === '.') throw new UnsupportedSqlError('an INSERT into a schema-qualified table', sql);
    // Drop "OR IGNORE" / "OR REPLACE" (or turn REPLACE into INSERT).
    const drop = new Set(first === 'REPLACE' ? [] : s.slice(1, k).filter((t) => isWord(t, 'OR', 'IGNORE', 'REPLACE')));
    ts = ts.filter((t, i) => !drop.has(t) && !(t.kind === 'space' && drop.has(ts[i + 1]!)));
    if (first === 'REPLACE') ts = ts.map((t) => (t === s[0] ? tok('word', 'INSERT', 'INSERT') : t));
    const upsert = s.some((t, i) => isWord(t, 'ON') && isWord(s[i + 1], 'CONFLICT'));
    if (mode !== 'plain' && (upsert || hasReturning))
      throw new UnsupportedSqlError(`INSERT OR ${mode.toUpperCase()} with ON CONFLICT or RETURNING`, sql);
    const info = mode === 'replace' || !hasReturning ? catalog?.table(table) : undefined;
    if (mode === 'ignore') conflict = ' ON CONFLICT DO NOTHING';
    if (mode === 'replace') {
      if (!catalog) throw new UnsupportedSqlError('INSERT OR REPLACE needs the table from the catalog', sql);
      if (!info)
        throw new UnsupportedSqlError(`INSERT OR REPLACE into ${table}, a table PostgreSQL does not have`, sql);
      if (!info.primaryKey.length)
        throw new UnsupportedSqlError(`INSERT OR REPLACE into ${table}, which has no primary key`, sql);
      if (info.unique.length)
        throw new UnsupportedSqlError(
          `INSERT OR REPLACE into ${table}, which has unique constraints besides its primary key ` +
            '(SQLite would delete the rows conflicting on any of them; an upsert on the primary key would not)',
          sql,
        );
      const others = info.columns.filter((c) => !info.primaryKey.includes(c));
      const q = (c: string) => (/^[a-z_][a-z0-9_]*$/.test(c) ? c : `"${c}"`);
      conflict =
        ` ON CONFLICT (${info.primaryKey.map(q).join(', ')}) ` +
        (others.length ? `DO UPDATE SET ${others.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}` : 'DO NOTHING');
    }
    if (!hasReturning && info?.identity) returning = info.identity;
  }
  ts = rewriteCommon(ts);
  const p = numberParams(ts, sql);
  let text = join(p.tokens) + conflict;
  if (returning) text += ` RETURNING ${returning}`;
  const reader = hasReturning || main === 'SELECT' || main === 'VALUES' || first === 'EXPLAIN';
  return { text, positional: p.positional, names: p.names, ...(returning ? { returning } : {}), reader };
}

// ---- migrations --------------------------------------------------------------------------------------------------

/** SQLite's column types as written in the project's migrations → PostgreSQL's. */
const TYPES: Record<string, string> = {
  INTEGER: 'BIGINT',
  INT: 'BIGINT',
  BIGINT: 'BIGINT',
  TEXT: 'TEXT',
  BLOB: 'BYTEA',
  REAL: 'DOUBLE PRECISION',
  DOUBLE: 'DOUBLE PRECISION',
  FLOAT: 'DOUBLE PRECISION',
  NUMERIC: 'NUMERIC',
};
const CONSTRAINT_WORDS = new Set([
  'PRIMARY',
  'NOT',
  'NULL',
  'DEFAULT',
  'UNIQUE',
  'CHECK',
  'REFERENCES',
  'COLLATE',
  'CONSTRAINT',
  'GENERATED',
  'AS',
]);

interface Column {
  name: string;
  /** SQLite's type word, upper case. */
  type: string;
  tokens: Token[];
}

/** One column definition (SQLite) → PostgreSQL; `rowidAlias`: it is the table's INTEGER PRIMARY KEY. */
function columnDef(def: Token[], sql: string, rowidAlias: boolean): string {
  const s = solid(def);
  const name = s[0]!;
  const typeWord = s[1];
  if (!typeWord || typeWord.kind !== 'word' || CONSTRAINT_WORDS.has(typeWord.key))
    throw new UnsupportedSqlError(`column ${name.text} has no type (SQLite allows it; PostgreSQL does not)`, sql);
  const type = TYPES[typeWord.key];
  if (!type) throw new UnsupportedSqlError(`the column type ${typeWord.text} has no translation`, sql);
  if (s[2]?.text === '(') throw new UnsupportedSqlError(`a sized type ${typeWord.text}(...)`, sql);
  let rest = s.slice(2);
  for (const [i, t] of rest.entries()) {
    if (isWord(t, 'COLLATE')) throw new UnsupportedSqlError("SQLite's collations have no translation", sql);
    if (isWord(t, 'ON') && isWord(rest[i + 1], 'CONFLICT'))
      throw new UnsupportedSqlError("a constraint's ON CONFLICT clause has no translation", sql);
    if (isWord(t, 'GENERATED', 'AS')) throw new UnsupportedSqlError('generated columns have no translation', sql);
  }
  let head = `${name.text} ${type}`;
  if (rowidAlias) {
    // INTEGER PRIMARY KEY [ASC] [AUTOINCREMENT]: assigned when omitted, as SQLite's rowid alias is.
    rest = rest.filter((t) => !isWord(t, 'AUTOINCREMENT', 'ASC'));
    head += ' GENERATED BY DEFAULT AS IDENTITY';
  } else if (rest.some((t) => isWord(t, 'AUTOINCREMENT')))
    throw new UnsupportedSqlError('AUTOINCREMENT on a column that is not an INTEGER PRIMARY KEY', sql);
  return rest.length ? `${head} ${spaced(rest)}` : head;
}

function createTable(ts: Token[], sql: string): string {
  const s = solid(ts);
  let k = 2;
  if (isWord(s[k], 'IF')) k += 3;
  const table = s[k];
  if (!nameOf(table) || s[k + 1]?.text !== '(')
    throw new UnsupportedSqlError('a CREATE TABLE that is not "CREATE TABLE name (columns...)"', sql);
  // The body: between the first '(' and its ')'.
  const open = ts.indexOf(s[k + 1]!);
  let depth = 0;
  let close = -1;
  for (let i = open; i < ts.length; i++) {
    if (ts[i]!.text === '(') depth++;
    if (ts[i]!.text === ')' && --depth === 0) {
      close = i;
      break;
    }
  }
  const tail = solid(ts.slice(close + 1));
  let withoutRowid = false;
  if (tail.length) {
    if (tail.length === 2 && isWord(tail[0], 'WITHOUT') && isWord(tail[1], 'ROWID')) withoutRowid = true;
    else throw new UnsupportedSqlError(`the table option ${tail.map((t) => t.text).join(' ')} has no translation`, sql);
  }
  const defs = splitTop(ts.slice(open + 1, close), (t) => t.text === ',').map(solid);
  const TABLE_CONSTRAINT = ['PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN', 'CONSTRAINT'];
  const columns: Column[] = defs
    .filter((d) => !(d[0]?.kind === 'word' && TABLE_CONSTRAINT.includes(d[0].key)))
    .map((d) => ({ name: nameOf(d[0])!, type: d[1]?.key ?? '', tokens: d }));
  // The rowid alias: INTEGER PRIMARY KEY on the column, or PRIMARY KEY (col) of one INTEGER column.
  let alias: string | undefined;
  if (!withoutRowid) {
    for (const c of columns) {
      const t = solid(c.tokens);
      if (c.type === 'INTEGER' && t.some((x, i) => isWord(x, 'PRIMARY') && isWord(t[i + 1], 'KEY'))) {
        if (t.some((x) => isWord(x, 'DESC'))) throw new UnsupportedSqlError('INTEGER PRIMARY KEY DESC', sql);
        alias = c.name;
      }
    }
    for (const d of defs)
      if (isWord(d[0], 'PRIMARY')) {
        const cols = d.slice(3, -1).filter((t) => t.text !== ',');
        const col = columns.find((c) => c.name === nameOf(cols[0]));
        if (cols.length === 1 && col?.type === 'INTEGER' && !d.some((t) => isWord(t, 'DESC'))) alias = col.name;
      }
  }
  const body = defs.map((d) => {
    if (d[0]?.kind === 'word' && TABLE_CONSTRAINT.includes(d[0].key)) {
      if (d.some((t, i) => isWord(t, 'COLLATE') || (isWord(t, 'ON') && isWord(d[i + 1], 'CONFLICT'))))
        throw new UnsupportedSqlError("a table constraint's COLLATE or ON CONFLICT has no translation", sql);
      return spaced(d);
    }
    return columnDef(d, sql, d === defs.find((x) => nameOf(x[0]) === alias));
  });
  // SQLite gives every table but a WITHOUT ROWID one a rowid: kept as a column when no column is its alias.
  if (!withoutRowid && !alias) {
    if (columns.some((c) => c.name === 'rowid'))
      throw new UnsupportedSqlError('a column named rowid in a table without a rowid alias', sql);
    body.push('rowid BIGINT GENERATED BY DEFAULT AS IDENTITY');
  }
  const headTokens = s.slice(0, k + 1).map((t) => t.text);
  return `${headTokens.join(' ')} (\n  ${body.join(',\n  ')}\n)`;
}

function alterTable(ts: Token[], sql: string): string {
  const s = solid(ts);
  const table = s[2]!;
  if (isWord(s[3], 'ADD')) {
    const k = isWord(s[4], 'COLUMN') ? 5 : 4;
    const def = s.slice(k);
    if (def.some((t, i) => isWord(t, 'PRIMARY') && isWord(def[i + 1], 'KEY')))
      throw new UnsupportedSqlError('ALTER TABLE ADD COLUMN ... PRIMARY KEY', sql);
    return `ALTER TABLE ${table.text} ADD COLUMN ${columnDef(def, sql, false)}`;
  }
  if (isWord(s[3], 'RENAME')) return join(rewriteCommon(ts));
  if (isWord(s[3], 'DROP')) return join(rewriteCommon(ts));
  throw new UnsupportedSqlError('this ALTER TABLE has no translation', sql);
}

function createTrigger(ts: Token[], sql: string): string {
  const s = solid(ts);
  let k = 2;
  if (isWord(s[k], 'IF')) k += 3;
  const name = nameOf(s[k]);
  if (!name) throw new UnsupportedSqlError('a trigger without a name', sql);
  const begin = s.findIndex((t) => isWord(t, 'BEGIN'));
  const head = s.slice(k + 1, begin);
  const when = head[0]?.key;
  if (when !== 'BEFORE' && when !== 'AFTER')
    throw new UnsupportedSqlError('only BEFORE or AFTER triggers have a translation', sql);
  const on = head.findIndex((t) => isWord(t, 'ON'));
  const event = head
    .slice(1, on)
    .map((t) => t.text)
    .join(' ')
    .replace(/ , /g, ', ');
  if (!/^(DELETE|INSERT|UPDATE(?: OF .+)?)$/i.test(event))
    throw new UnsupportedSqlError(`the trigger event ${event} has no translation`, sql);
  const table = head[on + 1]!.text;
  const after = head.slice(on + 2).map((t) => t.key);
  if (after.includes('WHEN')) throw new UnsupportedSqlError("a trigger's WHEN clause has no translation", sql);
  if (after.length && after.join(' ') !== 'FOR EACH ROW')
    throw new UnsupportedSqlError(`the trigger clause ${after.join(' ')} has no translation`, sql);
  const bodyTokens = ts.slice(ts.indexOf(s[begin]!) + 1, ts.lastIndexOf(s[s.length - 1]!));
  if (!isWord(s[s.length - 1], 'END')) throw new UnsupportedSqlError('a trigger body without END', sql);
  const stmts = splitTop(bodyTokens, (t) => t.text === ';')
    .filter((p) => solid(p).length)
    .map((p) => {
      const t = translateStatement(join(p));
      if (t.positional || t.names.length) throw new UnsupportedSqlError('parameters in a trigger', sql);
      return `${t.text};`;
    });
  const ret = when === 'AFTER' ? 'NULL' : /^DELETE/i.test(event) ? 'OLD' : 'NEW';
  const fn = `${name}_fn`;
  return (
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $peerpost$\nBEGIN\n  ` +
    `${stmts.join('\n  ')}\n  RETURN ${ret};\nEND\n$peerpost$;\n` +
    `CREATE OR REPLACE TRIGGER ${name} ${when} ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn}()`
  );
}

/** Split SQLite SQL into statements; a trigger's BEGIN ... END stays whole. */
export function splitStatements(sql: string): Token[][] {
  const out: Token[][] = [];
  let cur: Token[] = [];
  let inTrigger = false;
  let depth = 0;
  for (const t of tokenize(sql)) {
    if (t.text === '(') depth++;
    if (t.text === ')') depth--;
    const s = solid(cur);
    if (!inTrigger && isWord(t, 'TRIGGER') && isWord(s[0], 'CREATE')) inTrigger = true;
    if (t.text === ';' && depth === 0) {
      const last = solid(cur).at(-1);
      if (!inTrigger || isWord(last, 'END')) {
        if (solid(cur).length) out.push(cur);
        cur = [];
        inTrigger = false;
        continue;
      }
    }
    cur.push(t);
  }
  if (solid(cur).length) out.push(cur);
  return out;
}

/** A migration (one or more SQLite statements: CREATE/ALTER/DROP, triggers) as PostgreSQL's, `;`-separated. */
export function translateDdl(sql: string): string {
  return splitStatements(sql)
    .map((ts) => {
      const s = solid(ts);
      const one = join(ts);
      const [a, b, c] = s.map((t) => t.key);
      if (a === 'CREATE' && b === 'TABLE') return createTable(ts, one);
      if (a === 'CREATE' && (b === 'TEMP' || b === 'TEMPORARY' || b === 'VIRTUAL'))
        throw new UnsupportedSqlError(`CREATE ${b} TABLE has no translation`, one);
      if (a === 'CREATE' && (b === 'INDEX' || (b === 'UNIQUE' && c === 'INDEX'))) {
        refuseSqliteOnly(ts, one);
        return join(rewriteCommon(ts));
      }
      if (a === 'CREATE' && b === 'TRIGGER') return createTrigger(ts, one);
      if (a === 'ALTER' && b === 'TABLE') return alterTable(ts, one);
      if (a === 'DROP' && (b === 'TABLE' || b === 'INDEX' || b === 'VIEW')) return join(ts);
      if (a === 'INSERT' || a === 'UPDATE' || a === 'DELETE') {
        const t = translateStatement(one);
        if (t.positional || t.names.length) throw new UnsupportedSqlError('parameters in a migration', one);
        return t.text;
      }
      throw new UnsupportedSqlError(`${a} ${b ?? ''} in a migration has no translation`, one);
    })
    .join(';\n');
}
