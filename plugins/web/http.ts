/**
 * The HTTP plumbing every route of the web plugin shares: the security headers that every response carries, the
 * error a route throws (the app answers it as a page or as JSON), writing an answer, reading a request's body with
 * a cap, a request as the routes see it, and the checks of its parameters (a cursor, an encoded path segment).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml, messagePage } from './html.js';

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** A refusal or a failure a route throws; the app answers it (an error page, or JSON on the API). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** One request as a route sees it. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  path: string;
  method: string;
  /** GET or HEAD. */
  get: boolean;
  /** /api or under it. */
  isApi: boolean;
  /** The CORS headers of an API answer (none off the API). */
  cors: Record<string, string>;
  /** Refuses (405) a method other than these; HEAD goes with GET. */
  only(...methods: string[]): void;
}

/** Answers the request if it is one of the route's, and says whether it was. */
export type Route = (x: Exchange) => boolean | Promise<boolean>;

export function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export const html = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
  send(res, status, 'text/html; charset=utf-8', body, { 'Cache-Control': 'no-cache', ...headers });

export const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), {
    'Cache-Control': 'no-cache',
    ...headers,
  });

/** A page of the site `site` that says `text` under `title`. */
export const errorPage = (
  res: ServerResponse,
  site: string,
  status: number,
  title: string,
  text: string,
  headers: Record<string, string> = {},
) => html(res, status, messagePage(site, title, `<p>${escapeHtml(text)}</p>`), headers);

/** The body of a request, at most `max` bytes (413 past that). */
export const readBody = (req: IncomingMessage, max: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) return reject(new HttpError(413, `the request body is larger than ${max} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `the request body is larger than ${max} bytes`));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/** A post's seq number given as a cursor (`before`, `since`); undefined when not given; 400 when not one. */
export const cursor = (v: string | null, what: string): number | undefined => {
  if (v === null || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v))
    throw new HttpError(400, `${what} must be a post's seq number (a cursor), not ${JSON.stringify(v.slice(0, 30))}`);
  return Number(v);
};

export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
