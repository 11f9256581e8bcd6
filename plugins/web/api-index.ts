/**
 * GET /api: what the API offers, one entry a route, so that a client (or a person with curl) finds the rest
 * from the root. Kept next to the routes in api.ts; plugins/web/README.md has the same table with the answers.
 */
export interface ApiRoute {
  method: 'GET' | 'POST';
  /** {name} a bridge's web name (the target of its web endpoint), {id} a Message-ID without <>. */
  path: string;
  description: string;
}

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'GET', path: '/api', description: 'this index of the API' },
  {
    method: 'GET',
    path: '/api/bridges',
    description: 'every bridge served here: description, post count, newest post, each endpoint and how to join it',
  },
  {
    method: 'GET',
    path: '/api/bridges/{name}/posts?before={seq}&limit={n}',
    description: "a bridge's posts, newest first, a page at a time; pass the answer's next as before for older ones",
  },
  {
    method: 'POST',
    path: '/api/bridges/{name}/posts',
    description:
      'post to a bridge: JSON {"body": "…", "subject"?, "from"?, "inReplyTo"?, "references"?, "id"?} with Authorization: Bearer TOKEN',
  },
  { method: 'GET', path: '/api/posts/{id}', description: 'one post, by its Message-ID' },
  {
    method: 'GET',
    path: '/api/search?q={query}&bridge={name}&before={date}&after={date}&limit={n}&cursor={next}',
    description:
      'full-text search of the archive (words, "phrases", -word, author:, bridge:, before:, after:, thread:, sort:date): {results, next}; 400 with {error} for a query that cannot run',
  },
  {
    method: 'GET',
    path: '/api/stream?bridge={name}&since={seq}',
    description: "WebSocket: the bridge's posts as they are committed, after replaying those since the cursor",
  },
];

/** The answer of GET /api. `posting`: whether any token may post here (tokens in the account's config). */
export function apiIndex(posting: boolean): { api: string; posting: boolean; routes: readonly ApiRoute[] } {
  return { api: 'peerpost web API (see plugins/web/README.md)', posting, routes: API_ROUTES };
}
