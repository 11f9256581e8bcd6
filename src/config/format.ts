/**
 * Words for config errors: formatting a ConfigError as one line, and turning
 * zod issues into messages a person can act on ("expected a whole number from
 * 1 to 65535, got "abc"" instead of "Invalid input: expected number, received
 * string").
 *
 * Schema introspection here is best-effort: it reads zod v4 internals
 * (`_zod.def`) defensively, and falls back to zod's own words when a schema is
 * of a kind it does not know (a plugin may even bundle its own zod).
 */
import type { ConfigError } from './types.js';
import { plural } from '../util.js';

export type PathSeg = string | number;
export type Path = readonly PathSeg[];

/** "accounts.irc.libera.port", "bridges.commons.endpoints[1].direction". */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/**
 * "FILE:LINE:COL  path.to.key: what is wrong (expected ...)"; without a position
 * "FILE  path: what is wrong"; the path part is left out when empty.
 */
export function formatConfigError(e: ConfigError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.col}` : e.file;
  const what = e.path ? `${e.path}: ${e.message}` : e.message;
  return `${where}  ${what}${e.expected ? ` (expected ${e.expected})` : ''}`;
}

/** Edit distance (insert, delete, substitute: 1 each). */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The candidate closest to `word` (case-insensitively), when at most 2 edits away and not a rewrite of the whole word. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestD && d <= 2 && d < word.length) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** `"a", "b" or "c"` */
export function orList(items: readonly string[], quote = true): string {
  const q = items.map((s) => (quote ? JSON.stringify(s) : s));
  return q.length <= 1 ? (q[0] ?? '') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

/** A value as a person would name it in "got ...". */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return Object.keys(v).length === 0 ? 'an empty mapping' : 'a mapping';
  return typeof v;
}

// ---------------------------------------------------------------------------
// THE COMMENT TRAP: in YAML, " #" starts a comment, so `- irc.libera #commons`
// is the endpoint "irc.libera" followed by the comment "commons".

/** The first word of a comment after `end` (the end of a scalar) on the same line. */
export function trailingComment(source: string, end: number): string | undefined {
  const eol = source.indexOf('\n', end);
  return /^[ \t]+#(\S+)/.exec(source.slice(end, eol < 0 ? undefined : eol))?.[1];
}

/**
 * The trap inside [...] or {...}: in `[irc.libera #commons]` the comment also
 * swallows the closing bracket, and yaml reports an unclosed collection at a
 * later line. Looks back from that line for the one that did it.
 */
export function flowCommentTrap(
  source: string,
  lineStarts: readonly number[],
  errLine: number,
): { line: number; account: string; word: string } | undefined {
  for (let l = errLine; l >= 1 && l > errLine - 20; l--) {
    const text = source.slice(lineStarts[l - 1], lineStarts[l]);
    const m = /[[{].*?([^\s[{,]+)[ \t]+#([^\s\]},]+)/.exec(text);
    if (m) return { line: l, account: m[1]!.replace(/\/$/, ''), word: m[2]! };
  }
  return undefined;
}

/**
 * What to write instead of `account #word`, where " #word" was read as a
 * comment: the endpoint the plugin accepts, `account/#word` (an IRC channel)
 * or `account/word` (a newsgroup, a list, a plan), tried in the order its style
 * makes likely. `problem` is the plugin's validateTarget (undefined: any target).
 */
export function commentTrapFix(
  account: string,
  word: string,
  plugin?: { style?: string; problem?: ((target: string) => string | undefined) | undefined },
): string {
  const bare = word.replace(/^#+/, '');
  const tries = plugin?.style === 'chat' || !plugin ? [`#${word}`, bare] : [bare, `#${word}`];
  for (const t of tries) {
    let problem: string | undefined;
    try {
      problem = plugin?.problem?.(t);
    } catch {
      problem = 'not checked';
    }
    if (t && !problem) return `write ${account}/${t}`;
  }
  return `write ${account}/TARGET, with no space before the target ("${word}" is not a target of ${account})`;
}

// ---------------------------------------------------------------------------
// zod v4 introspection

/** The parts of a zod schema this module reads. */
interface SchemaLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- zod's internal definitions are untyped
  _zod?: { def?: Record<string, any> };
  description?: string;
  minValue?: number | null;
  maxValue?: number | null;
  isInt?: boolean;
  minLength?: number | null;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'lazy']);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- zod's internal definitions are untyped
function defOf(s: unknown): Record<string, any> | undefined {
  return (s as SchemaLike | undefined)?._zod?.def;
}

/** Peel optional/default/pipe wrappers, stopping at a described schema when `keepDescribed`. */
function unwrap(s: unknown, keepDescribed = false): unknown {
  for (let i = 0; i < 20 && s; i++) {
    if (keepDescribed && (s as SchemaLike).description) return s;
    const def = defOf(s);
    if (!def) return s;
    if (def.type === 'lazy' && typeof def.getter === 'function') s = def.getter();
    else if (WRAPPERS.has(def.type)) s = def.innerType;
    // z.preprocess(fn, X) is pipe(transform, X); X.transform(fn) is pipe(X, transform).
    else if (def.type === 'pipe') s = defOf(def.in)?.type === 'transform' ? def.out : def.in;
    else return s;
  }
  return s;
}

/** The schema that validates the value at `path` under `schema`, if it can be found. */
export function schemaAt(schema: unknown, path: Path): unknown {
  let s: unknown = schema;
  for (const seg of path) {
    const def = defOf(unwrap(s));
    if (!def) return undefined;
    if (def.type === 'object') s = def.shape?.[seg];
    else if (def.type === 'record') s = def.valueType;
    else if (def.type === 'array') s = def.element;
    else if (def.type === 'tuple') s = def.items?.[seg as number];
    else return undefined;
    if (!s) return undefined;
  }
  return s;
}

/** The keys an object schema knows, or undefined when it is not an object schema. */
export function objectKeys(schema: unknown): string[] | undefined {
  const def = defOf(unwrap(schema));
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function numberRange(s: SchemaLike, word: string): string {
  const big = Number.MAX_SAFE_INTEGER;
  const min = typeof s.minValue === 'number' && Math.abs(s.minValue) < big ? s.minValue : undefined;
  const max = typeof s.maxValue === 'number' && Math.abs(s.maxValue) < big ? s.maxValue : undefined;
  if (min !== undefined && max !== undefined) return `${word} from ${min} to ${max}`;
  if (min !== undefined) return min === 0 ? `${word} of 0 or more` : `${word} of at least ${min}`;
  if (max !== undefined) return `${word} of at most ${max}`;
  return word;
}

/** What a schema accepts, in words: "a whole number from 1 to 65535", "text", "a list of text". */
export function describeSchema(schema: unknown, depth = 0): string | undefined {
  const s = unwrap(schema, true) as SchemaLike | undefined;
  if (!s || depth > 4) return undefined;
  if (s.description) return s.description;
  const def = defOf(s);
  switch (def?.type) {
    case 'string':
      return s.minLength && s.minLength > 0 ? 'non-empty text' : 'text';
    case 'number':
      return numberRange(s, s.isInt ? 'a whole number' : 'a number');
    case 'int':
      return numberRange(s, 'a whole number');
    case 'boolean':
      return 'true or false';
    case 'enum':
      return orList(Object.values(def.entries ?? {}).map(String));
    case 'literal':
      return orList((def.values ?? []).map(String));
    case 'object':
    case 'record':
      return 'a mapping';
    case 'array': {
      const el = describeSchema(def.element, depth + 1);
      return el && !el.startsWith('a mapping') ? `a list of ${el.replace(/^an? /, '')}` : 'a list';
    }
    case 'union': {
      const parts = (def.options ?? []).map((o: unknown) => describeSchema(o, depth + 1));
      if (parts.some((p: string | undefined) => !p)) return undefined;
      return orList([...new Set<string>(parts)], false);
    }
    case 'null':
      return 'nothing';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------
// Issues to messages

/** One humanized problem, relative to the value that was validated. */
export interface Problem {
  /** Path shown to the user. */
  path: PathSeg[];
  /** Path of the YAML node to point at. */
  at: PathSeg[];
  /** Point at the key of `at` (unknown keys) rather than its value. */
  key?: boolean;
  message: string;
  expected?: string;
}

/** The parts of a zod v4 issue read here. */
export interface IssueLike {
  code?: string;
  path?: PropertyKey[];
  message?: string;
  expected?: string;
  keys?: string[];
  values?: unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  divisor?: number;
  format?: string;
  errors?: IssueLike[][];
  issues?: IssueLike[];
}

export interface HumanizeOptions {
  /** The schema that was run and the value it was given. */
  schema: unknown;
  value: unknown;
  /** Extra keys allowed on the root mapping (suggested for typos). */
  extraRootKeys?: readonly string[];
  /** "got ..." text for a value at a path (lets the caller hide secrets). */
  show?: (path: Path, value: unknown) => string;
}

function getIn(v: unknown, path: Path): unknown {
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function hasKey(v: unknown, key: PathSeg): boolean {
  return v !== null && typeof v === 'object' && Object.prototype.hasOwnProperty.call(v, key);
}

/** zod's own default wording; anything else was written by a schema author and is kept as is. */
const ZOD_DEFAULT =
  /^(Invalid input|Invalid option|Invalid string|Invalid key|Invalid element|Too small|Too big|Unrecognized key|Invalid number)/;

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  null: 'nothing',
  bigint: 'a whole number',
  date: 'a date',
};

export function humanizeIssues(issues: readonly IssueLike[], o: HumanizeOptions, prefix: Path = []): Problem[] {
  const out: Problem[] = [];
  const show = (p: Path, v: unknown) => (o.show ? o.show(p, v) : showValue(v));
  for (const issue of issues) {
    const path: PathSeg[] = [...prefix, ...(issue.path ?? []).map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const value = getIn(o.value, path);
    const custom = issue.message && !ZOD_DEFAULT.test(issue.message) ? issue.message : undefined;
    const here = schemaAt(o.schema, path);
    const push = (message: string, expected?: string) =>
      out.push({ path, at: path, message, ...(expected ? { expected } : {}) });
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = [...(objectKeys(here) ?? []), ...(path.length === 0 ? (o.extraRootKeys ?? []) : [])];
        for (const k of issue.keys ?? []) {
          const near = nearest(k, known);
          out.push({
            path,
            at: [...path, k],
            key: true,
            message: `unknown key "${k}"${near ? ` (did you mean "${near}"?)` : ''}`,
            ...(near ? {} : { expected: known.length ? `one of ${known.join(', ')}` : 'no keys here' }),
          });
        }
        break;
      }
      case 'invalid_type': {
        const parent = getIn(o.value, path.slice(0, -1));
        const last = path[path.length - 1];
        const what = describeSchema(here) ?? TYPE_WORDS[issue.expected ?? ''] ?? issue.expected;
        if (
          value === undefined &&
          path.length > 0 &&
          !hasKey(parent, last!) &&
          parent !== null &&
          typeof parent === 'object'
        ) {
          const parentPath = path.slice(0, -1);
          out.push({
            path: parentPath,
            at: parentPath,
            message: `missing required key "${String(last)}"`,
            ...(what ? { expected: what } : {}),
          });
        } else if (custom) {
          push(custom);
        } else {
          let msg = `expected ${what}, got ${show(path, value)}`;
          if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean'))
            msg += ' (put it in quotes to make it text)';
          push(msg);
        }
        break;
      }
      case 'too_small':
      case 'too_big': {
        if (custom) push(custom);
        else if (issue.origin === 'number' || issue.origin === 'int') {
          const bound = issue.code === 'too_small' ? `at least ${issue.minimum}` : `at most ${issue.maximum}`;
          push(`expected ${describeSchema(here) ?? `a number ${bound}`}, got ${show(path, value)}`);
        } else if (issue.origin === 'string') {
          if (issue.code === 'too_small' && Number(issue.minimum) === 1) push('must not be empty');
          else
            push(
              issue.code === 'too_small'
                ? `must be at least ${plural(Number(issue.minimum), 'character')} long`
                : `must be at most ${plural(Number(issue.maximum), 'character')} long`,
            );
        } else if (issue.origin === 'array' || issue.origin === 'set') {
          if (issue.code === 'too_small' && Number(issue.minimum) === 1) push('must not be an empty list');
          else
            push(
              issue.code === 'too_small'
                ? `must have at least ${plural(Number(issue.minimum), 'item')}`
                : `must have at most ${plural(Number(issue.maximum), 'item')}`,
            );
        } else push(issue.message ?? 'out of range');
        break;
      }
      case 'invalid_value': {
        if (custom) {
          push(custom);
          break;
        }
        const allowed = (issue.values ?? []).map(String);
        const near = typeof value === 'string' ? nearest(value, allowed) : undefined;
        push(`expected ${orList(allowed)}, got ${show(path, value)}${near ? ` (did you mean "${near}"?)` : ''}`);
        break;
      }
      case 'invalid_format':
        push(
          custom ?? `expected ${describeSchema(here) ?? `text in ${issue.format} format`}, got ${show(path, value)}`,
        );
        break;
      case 'not_multiple_of':
        push(custom ?? `expected a multiple of ${issue.divisor}, got ${show(path, value)}`);
        break;
      case 'invalid_union': {
        // When exactly one alternative got past the type check, its complaints are the useful ones.
        const deep = (issue.errors ?? []).filter(
          (branch) => !branch.some((i) => (i.path ?? []).length === 0 && i.code === 'invalid_type'),
        );
        if (deep.length === 1) out.push(...humanizeIssues(deep[0]!, o, path));
        else push(custom ?? `expected ${describeSchema(here) ?? 'something else'}, got ${show(path, value)}`);
        break;
      }
      case 'invalid_key':
      case 'invalid_element':
        if (issue.issues?.length) out.push(...humanizeIssues(issue.issues, o, path));
        else push(issue.message ?? 'invalid');
        break;
      default:
        // custom issues (refinements, transforms such as duration()) carry their own words
        push(
          issue.message && issue.message !== 'Invalid input' ? issue.message : `${show(path, value)} is not valid here`,
        );
    }
  }
  return out;
}
