/**
 * Error codes: why a post was refused (an ingest verdict `rejected` or `tempfail`) or why a delivery failed for
 * good (an outcome `failed`), for programs. The reason beside a code is for people and its wording may change at
 * any time: decide on the code, never on the reason (an exit status, a protocol's reply, a metric).
 *
 * The list is closed: a new kind of refusal gets a new code here, with its line of documentation.
 */
export const ERROR_CODES = {
  // ── a post refused for good (rejected) ──
  /** `peerpost post` or the web API named a bridge the config does not have. */
  'no-bridge': 'the bridge does not exist',
  /** The post arrived at a target that is no endpoint of any bridge (a channel, group or list not configured). */
  'no-endpoint': 'the target is not an endpoint of any bridge',
  /** The endpoint only receives from its bridge (direction: out, a read-only group): what arrives there is not relayed. */
  'receive-only': 'the endpoint only receives from its bridge',
  /** Not a post we can take: a bad Message-ID, hops, kind, an article that cannot be read, an id not the one offered. */
  invalid: 'the post is malformed',
  /** The post went round: more relays than node.maxHops, or our own name already in its path. */
  loop: 'the post came back (a loop)',
  /** The post is held already (where a protocol answers a second copy with a refusal: NNTP). */
  duplicate: 'the post is held already',
  /** Larger than the account allows. */
  'too-large': 'the post is too large',
  /** The post was removed from the archive (`peerpost remove`, archive.keep, a cancel): its tombstone keeps it out. */
  removed: 'the post was removed from the archive',
  /** A rule of the account refuses it: control messages, a token's bridges, posting not permitted. */
  'not-allowed': 'a rule of the account refuses it',
  // ── a post refused for now (tempfail): the sender tries again later ──
  /** peerpost is stopping. */
  'shutting-down': 'peerpost is shutting down',
  /** The disk holding the store is full. */
  'store-full': 'the store is full',
  /** The store cannot be written now (read-only, locked, an I/O error). */
  'store-unavailable': 'the store cannot be written now',
  /** The store failed otherwise (damaged): an operator must look. */
  'store-failed': 'the store failed',
  // ── a delivery failed for good (failed: a dead letter) ──
  /** The target is not one this protocol can deliver to (not a channel, not a newsgroup name). */
  'bad-target': 'the target cannot take posts of this protocol',
  /** The endpoint's configuration cannot work (an unusable list address, a follow endpoint asked to deliver). */
  misconfigured: 'the endpoint is misconfigured',
  /** The remote server refused the post for good (an NNTP 441/437/440/480, ...). */
  'refused-by-peer': 'the remote server refused the post',
  /** Not delivered within delivery.giveUpAfter. */
  expired: 'not delivered in time (delivery.giveUpAfter)',
  // ── a search of the archive that cannot run (web/API 400, CLI usage) ──
  /** An archive search query that cannot be run: empty, only negative terms, a bad date or filter, over 10 KB. */
  'bad-query': 'the search query cannot be run',
} as const;

/** An error that carries one of the codes above; decide on `code`, show `message` to people. */
export class CodedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CodedError';
  }
}

export type ErrorCode = keyof typeof ERROR_CODES;
