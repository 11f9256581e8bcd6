/**
 * The delivery stages: what happens between the outbox picking a row for an endpoint and the plugin sending it.
 * In order:
 *
 *   1. endpoint      is the endpoint still in the config? (a reload may have taken it out)
 *   2. account       is its account running? (not missing, not starting, not stopped)
 *   3. shared place  a digest, or any post to a chat place, goes through the shared-place memory
 *                    (src/digest/shown.ts: taking turns with other nodes, sending only what the place does not
 *                    show yet); any other post passes straight on
 *   4. plugin        the account's deliver, with its delivery window
 *
 * The first two run when the outbox looks at an endpoint (deliveryPipeline): either of them can hold the
 * endpoint's rows back, and says which stage did and why; the rows wait until the account starts or the outbox's
 * sweep looks again. Past them, the last two make the deliver function the outbox calls for each row.
 *
 * Pure wiring: what the stages read (the routing, the accounts, the shared-place memory) comes in as parameters,
 * so a unit test drives each stage with fakes.
 */
import type { EndpointConfig } from '../config/types.js';
import type { AccountHandle, AccountState, DeliveryTarget, FirstTarget, Outcome } from '../plugin.js';
import type { Post } from '../post.js';
import type { Router } from '../ingest/router.js';
import type { SharedDeliveries, SharedPlace } from '../digest/shown.js';
import type { Resolution } from './outbox.js';

/** The stages' names, in the order a post passes them. */
export const DELIVERY_STAGES = ['endpoint', 'account', 'shared place', 'plugin'] as const;
export type DeliveryStage = (typeof DELIVERY_STAGES)[number];

/** A stage held an endpoint's rows back: which stage, and why (the outbox logs both; `peerpost status` says why). */
export class Held {
  constructor(
    readonly stage: DeliveryStage,
    readonly reason: string,
  ) {}
}

/** What the stages read of an account (the daemon's AccountRuntime). */
export interface AccountView {
  state: AccountState;
  handle?: AccountHandle;
  lastError?: { message: string };
}

/** Everything the stages read, passed in by the daemon. */
export interface DeliveryDeps {
  /** The routing now: a reload replaces it, so it is asked each time (a post's origin is looked up at delivery). */
  router: () => Pick<Router, 'endpoint' | 'endpointAt' | 'styleOf'>;
  /** An account of the config by name, running or not (undefined when it has not been made). */
  account: (name: string) => AccountView | undefined;
  /** The shared-place memory (src/digest/shown.ts). */
  digestsOut: Pick<SharedDeliveries, 'deliver' | 'straight'>;
}

export type Deliver = (post: Post, to: DeliveryTarget) => Promise<Outcome>;

/** 1. Is the endpoint still in the config? */
export const endpointStage = {
  name: 'endpoint',
  run(key: string, d: DeliveryDeps): EndpointConfig | Held {
    return d.router().endpoint(key) ?? new Held('endpoint', `${key} is no longer in the config`);
  },
} as const;

/** 2. Is the endpoint's account running? Its handle, or why not (with the account's last error, if any). */
export const accountStage = {
  name: 'account',
  run(e: EndpointConfig, d: DeliveryDeps): AccountHandle | Held {
    const a = d.account(e.account);
    if (!a || !a.handle)
      return new Held(
        'account',
        `account ${e.account} is not running${a?.lastError ? ` (${a.lastError.message})` : ''}`,
      );
    if (a.state === 'stopped' || a.state === 'starting')
      return new Held('account', `account ${e.account} is ${a.state}`);
    return a.handle;
  },
} as const;

/** Where a post came from, as the shared-place memory asks it: its endpoint, and whether that place is shared. */
function originOf(post: Post, d: DeliveryDeps): Pick<SharedPlace, 'origin' | 'originShared'> {
  return {
    origin: d.router().endpointAt(post.origin.account, post.origin.target)?.key,
    originShared: d.account(post.origin.account)?.handle?.refresh !== undefined,
  };
}

/**
 * 3. A digest, or any post to a chat place, goes through the shared-place memory, which then calls `next` (or
 * sends nothing, when the place shows all of a digest already); anything else goes to `next` directly.
 */
export const sharedPlaceStage = {
  name: 'shared place',
  run(e: EndpointConfig, handle: AccountHandle, d: DeliveryDeps, next: Deliver): Deliver {
    const chat = d.router().styleOf(e.account) === 'chat';
    return (post, to) => {
      if (post.kind !== 'digest' && !chat) return next(post, to);
      return d.digestsOut.deliver(post, {
        endpoint: e.key,
        chat,
        ...originOf(post, d),
        attempt: to.attempt,
        deliver: (p: Post) => next(p, to),
        ...(handle.refresh ? { refresh: () => handle.refresh!(e.target) } : {}),
      });
    };
  },
} as const;

/**
 * Before a commit (the outbox's `first`): a chat endpoint whose plugin can say a post first, where stage 3 would hand
 * the post straight to the plugin (no turn to take with other nodes). Undefined where a post is never said first.
 */
export const firstStage = {
  name: 'shared place',
  run(
    e: EndpointConfig,
    handle: AccountHandle,
    d: DeliveryDeps,
  ): ((post: Post, to: FirstTarget) => boolean) | undefined {
    if (!handle.sayFirst || d.router().styleOf(e.account) !== 'chat') return undefined;
    return (post, to) =>
      d.digestsOut.straight(post, { chat: true, ...originOf(post, d) }) && handle.sayFirst!(post, to);
  },
} as const;

/** 4. The plugin sends it: the account's deliver, and how many rows of the endpoint may be in flight at once. */
export const pluginStage = {
  name: 'plugin',
  run(handle: AccountHandle): { deliver: Deliver; window?: number } {
    return { deliver: (post, to) => handle.deliver(post, to), window: handle.deliveryWindow };
  },
} as const;

/**
 * An endpoint through the stages, in order: held back by the first stage that says no (the outbox logs the stage
 * and the reason, and the rows wait), or ready with the deliver function the outbox calls for each row.
 */
export function deliveryPipeline(key: string, d: DeliveryDeps): Resolution {
  const endpoint = endpointStage.run(key, d);
  if (endpoint instanceof Held) return { ready: false, stage: endpoint.stage, reason: endpoint.reason };
  const handle = accountStage.run(endpoint, d);
  if (handle instanceof Held) return { ready: false, stage: handle.stage, reason: handle.reason };
  const plugin = pluginStage.run(handle);
  const first = firstStage.run(endpoint, handle, d);
  return {
    ready: true,
    endpoint,
    window: plugin.window,
    deliver: sharedPlaceStage.run(endpoint, handle, d, plugin.deliver),
    ...(first ? { first } : {}),
  };
}
