/**
 * Routing: which endpoints a post reaches, and in what shape. Pure: built from
 * the config, each account's declared style and its plugin's rule for which
 * targets name one place (TargetKey: IRC's case-folding is the IRC plugin's);
 * no I/O, so it is tested from inline config with no network.
 */
import type { BridgeConfig, EndpointConfig, PeerpostConfig, Shape, Style } from '../config/types.js';
import type { Post } from '../post.js';
import type { TargetKey } from '../plugin.js';

/** Whether a post reads as a chat line or as an article, for choosing a shape. */
export type Flavour = 'chat' | 'article';

/** Targets compare exactly unless the account's plugin says otherwise. */
const exact: TargetKey = (target) => target;

export interface Route {
  endpoint: EndpointConfig;
  shape: Shape;
}

export interface RoutePlan {
  /** Deliveries to make now, one outbox row each. */
  deliveries: Route[];
  /** Endpoints that receive this post later, inside the bridge's next digest. */
  digest: EndpointConfig[];
}

/** The flavour of a post: chat lines from chat protocols; articles from mail/news; the rest by content. */
export function flavourOf(post: Pick<Post, 'subject' | 'body' | 'kind'>, originStyle: Style | undefined): Flavour {
  if (post.kind === 'digest' || post.kind === 'plan') return 'article';
  if (originStyle === 'chat') return 'chat';
  if (originStyle === 'article') return 'article';
  return post.subject || post.body.includes('\n') ? 'article' : 'chat';
}

/**
 * The shape an endpoint receives a post of the given flavour in.
 * Defaults by protocol pair (docs/design.md, "Chat meets mail"): chat → article: digest; article → chat: announce; else stream.
 * An explicit shape applies where it means something (digest and command to chat lines,
 * announce to articles); other posts stream.
 */
export function shapeFor(flavour: Flavour, targetStyle: Style, explicit: Shape | undefined): Shape {
  if (explicit === undefined) {
    if (flavour === 'chat' && targetStyle === 'article') return 'digest';
    if (flavour === 'article' && targetStyle === 'chat') return 'announce';
    return 'stream';
  }
  if (explicit === 'digest' || explicit === 'command') return flavour === 'chat' ? explicit : 'stream';
  if (explicit === 'announce') return flavour === 'article' ? 'announce' : 'stream';
  return 'stream';
}

export class Router {
  private readonly byEndpoint = new Map<string, EndpointConfig>();
  private readonly byAccount = new Map<string, EndpointConfig[]>();
  /** Per account: its endpoints by target key, and the rule they were keyed by (a connection may change it). */
  private readonly byTargetKey = new Map<string, { key: TargetKey; endpoints: Map<string, EndpointConfig> }>();

  constructor(
    readonly config: PeerpostConfig,
    /** account name → its plugin's style */
    private readonly styles: ReadonlyMap<string, Style>,
    /** Accounts whose plugin wants what arrives through an endpoint delivered back to it (PluginDefinition.echo). */
    private readonly echoes: ReadonlySet<string> = new Set(),
    /** account name → which of its targets name one place (PluginDefinition.targetKey, AccountHandle.targetKey). */
    private readonly targetKeys: (account: string) => TargetKey | undefined = () => undefined,
  ) {
    for (const bridge of Object.values(config.bridges)) {
      for (const e of bridge.endpoints) {
        this.byEndpoint.set(e.key, e);
        const list = this.byAccount.get(e.account) ?? [];
        list.push(e);
        this.byAccount.set(e.account, list);
      }
    }
  }

  bridge(name: string): BridgeConfig | undefined {
    return this.config.bridges[name];
  }

  endpoint(key: string): EndpointConfig | undefined {
    return this.byEndpoint.get(key);
  }

  /** The endpoint a post arriving at account/target comes in by. */
  endpointAt(account: string, target: string): EndpointConfig | undefined {
    const key = this.targetKeys(account) ?? exact;
    let index = this.byTargetKey.get(account);
    if (index?.key !== key) {
      index = { key, endpoints: new Map((this.byAccount.get(account) ?? []).map((e) => [key(e.target), e])) };
      this.byTargetKey.set(account, index);
    }
    return index.endpoints.get(key(target));
  }

  endpointsOf(account: string): EndpointConfig[] {
    return [...(this.byAccount.get(account) ?? [])];
  }

  styleOf(account: string): Style | undefined {
    return this.styles.get(account);
  }

  /**
   * Where a post goes: every endpoint of its bridge but the one it came in by,
   * that receives (direction out or inout), in the shape that endpoint wants.
   * Events (joins, parts) reach chat endpoints only.
   */
  plan(post: Post, originEndpoint: string | undefined, originStyle: Style | undefined): RoutePlan {
    const bridge = this.config.bridges[post.bridge];
    const plan: RoutePlan = { deliveries: [], digest: [] };
    if (!bridge) return plan;
    const flavour = flavourOf(post, originStyle);
    for (const e of bridge.endpoints) {
      if ((e.key === originEndpoint && !this.echoes.has(e.account)) || e.direction === 'in') continue;
      const style = this.styles.get(e.account);
      if (style === undefined) continue;
      if (post.kind === 'event' && style !== 'chat') continue;
      // A digest is chat lines gathered for mail and news: in a chat place its lines were said already
      // (here, or, for a digest from another node, in a channel both nodes may share). Never announced back.
      if (post.kind === 'digest' && style === 'chat') continue;
      const shape = post.kind === 'event' ? 'stream' : shapeFor(flavour, style, e.shape);
      if (shape === 'digest') plan.digest.push(e);
      else if (shape === 'command') {
        if (startsWithCommand(post.body, e.prefix)) plan.deliveries.push({ endpoint: e, shape });
      } else plan.deliveries.push({ endpoint: e, shape });
    }
    return plan;
  }

  /** Endpoints that take a bridge's digests now (for closing a digest). */
  digestEndpoints(bridgeName: string): EndpointConfig[] {
    const bridge = this.config.bridges[bridgeName];
    if (!bridge) return [];
    return bridge.endpoints.filter((e) => {
      const style = this.styles.get(e.account);
      return e.direction !== 'in' && style !== undefined && shapeFor('chat', style, e.shape) === 'digest';
    });
  }
}

export function startsWithCommand(body: string, prefix: string): boolean {
  return body.startsWith(prefix) && (body.length === prefix.length || /\s/.test(body[prefix.length]!));
}

/** The body a `command` endpoint receives: the line without its prefix. */
export function stripCommand(body: string, prefix: string): string {
  return body.slice(prefix.length).trimStart();
}
