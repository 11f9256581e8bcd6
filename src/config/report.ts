/**
 * The problems of one config load (src/config/load.ts): where each value of the file came from (its YAML node and key
 * node, so that an error names the file, line and column), which values came from the environment (never shown: they
 * may be secrets), and the errors found so far, sorted, with the echoes of a YAML syntax error dropped. Schema
 * validation (zod, and a plugin's schema with unknown keys reported everywhere) reports through it.
 */
import { isScalar, LineCounter } from 'yaml';
import type { z } from 'zod';
import type { ConfigError } from './types.js';
import { formatPath, humanizeIssues, nearest, objectKeys, showValue, type Path } from './format.js';

export type YNode = { range?: [number, number, number] | null };
export interface Loc {
  node: unknown;
  key?: unknown;
}
/** syntax: a YAML error; always: kept even after a syntax error; schema: may be a consequence of one. */
export type Kind = 'syntax' | 'always' | 'schema';
/** offset: where the error points; end: where the node it is about ends. */
interface Pending {
  offset: number | undefined;
  end?: number | undefined;
  kind: Kind;
  error: ConfigError;
}

export const pk = (p: Path) => JSON.stringify(p);
export const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export class Report {
  readonly lc = new LineCounter();
  readonly pending: Pending[] = [];
  /** Where the value at each path came from: its node and, in a mapping, its key node. */
  readonly locs = new Map<string, Loc>();
  /** Paths whose value had ${...} substituted, with the text as written (to name it instead of showing a secret). */
  readonly fromEnv = new Map<string, string>();
  /** Paths whose substitution failed; errors about their (broken) value would only be noise. */
  readonly poisoned = new Set<string>();

  constructor(private readonly file: string) {}

  at(offset: number | undefined, path: string, message: string, expected?: string): ConfigError {
    const pos = offset === undefined ? { line: 0, col: 0 } : this.lc.linePos(offset);
    return { file: this.file, line: pos.line, col: pos.col, path, message, ...(expected ? { expected } : {}) };
  }

  /** [start, end] of the node for `path` (or of its key), or of the nearest ancestor that has a position. */
  spanOf(path: Path, key = false): [number, number] | undefined {
    for (let n = path.length; n >= 0; n--) {
      const loc = this.locs.get(pk(path.slice(0, n)));
      if (!loc) continue;
      const k = (loc.key as YNode | undefined)?.range;
      const v = loc.node as YNode | null | undefined;
      if (key && n === path.length && k) return [k[0], k[1]];
      // An empty value (`accounts:`) has a zero-width node at the end of the line: the key reads better.
      const empty = isScalar(v) && v.value === null && v.range && v.range[0] === v.range[1];
      if (v?.range && !(empty && k)) return [v.range[0], v.range[2]];
      if (k) return [k[0], k[1]];
    }
    return undefined;
  }

  /** Record a problem about the value at `at` (or its key); `shown` is the path printed. */
  add(
    at: Path,
    message: string,
    o: { shown?: Path; key?: boolean; expected?: string | undefined; kind?: Kind } = {},
  ): void {
    const kind = o.kind ?? 'schema';
    if (kind === 'schema') {
      for (let n = at.length; n > 0; n--) if (this.poisoned.has(pk(at.slice(0, n)))) return;
    }
    const [offset, end] = this.spanOf(at, o.key) ?? [undefined, undefined];
    this.pending.push({ offset, end, kind, error: this.at(offset, formatPath(o.shown ?? at), message, o.expected) });
  }

  /**
   * All errors, sorted. A schema error about a node that reaches a YAML syntax
   * error (a mapping "missing" a key the broken line held, a key misread after
   * it) is likely its echo: those are dropped, and show up on the next run if real.
   */
  finish(): ConfigError[] {
    const syntax = this.pending.filter((p) => p.kind === 'syntax').map((p) => p.offset ?? 0);
    const cut = syntax.length ? Math.min(...syntax) : Infinity;
    return this.pending
      .filter((p) => p.kind !== 'schema' || (p.end ?? p.offset ?? 0) < cut)
      .map((p) => p.error)
      .sort((a, b) => a.line - b.line || a.col - b.col);
  }

  /** "got ..." for a value, without showing what came from the environment (it may be a secret). */
  show(path: Path, v: unknown): string {
    const src = this.fromEnv.get(pk(path));
    if (src === undefined) return showValue(v);
    const kind = typeof v === 'string' ? 'text' : typeof v === 'number' ? 'a number' : showValue(v);
    return `${kind} (from ${JSON.stringify(src)})`;
  }

  /** Validate with a zod schema, reporting its issues at their nodes under `base`. */
  async validate<T>(
    schema: z.ZodType<T>,
    value: unknown,
    base: Path,
    extraRootKeys?: readonly string[],
  ): Promise<T | undefined> {
    let r: z.ZodSafeParseResult<T>;
    try {
      r = await schema.safeParseAsync(value);
    } catch (err) {
      this.add(base, `could not be checked: ${(err as Error).message}`);
      return undefined;
    }
    if (r.success) return r.data;
    const problems = humanizeIssues(r.error.issues as never, {
      schema,
      value,
      ...(extraRootKeys ? { extraRootKeys } : {}),
      show: (p, v) => this.show([...base, ...p], v),
    });
    for (const p of problems)
      this.add([...base, ...p.at], p.message, { shown: [...base, ...p.path], key: !!p.key, expected: p.expected });
    return undefined;
  }

  /**
   * Validate with a plugin's schema. Unknown keys are errors everywhere, even
   * where a plugin used z.object() (which drops them silently) instead of
   * z.strictObject(): keys it would drop are reported here.
   */
  async validatePlugin<T>(schema: z.ZodType<T>, value: unknown, base: Path, extraRootKeys?: readonly string[]) {
    const def = (schema as { _zod?: { def?: { type?: string; catchall?: unknown } } })._zod?.def;
    const known = objectKeys(schema);
    if (def?.type === 'object' && def.catchall === undefined && known && isObj(value)) {
      const unknown = Object.keys(value).filter((k) => !known.includes(k));
      this.unknownKeys(
        unknown,
        base,
        [...known, ...(extraRootKeys ?? [])],
        known.length ? `one of ${known.join(', ')}` : 'no keys here',
      );
    }
    return this.validate(schema, value, base, extraRootKeys);
  }

  /** `unknown key "x" (did you mean "y"?)` at each key, else what is allowed. */
  unknownKeys(keys: readonly string[], base: Path, known: readonly string[], expected: string): void {
    for (const k of keys) {
      const near = nearest(k, known);
      this.add([...base, k], `unknown key "${k}"${near ? ` (did you mean "${near}"?)` : ''}`, {
        shown: base,
        key: true,
        ...(near ? {} : { expected }),
      });
    }
  }
}
