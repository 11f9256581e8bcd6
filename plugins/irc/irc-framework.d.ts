/** The part of irc-framework (4.x, CommonJS, no types of its own) that the irc plugin uses. */
declare module 'irc-framework' {
  import type { EventEmitter } from 'node:events';

  export interface ClientOptions {
    host: string;
    port: number;
    tls?: boolean;
    rejectUnauthorized?: boolean;
    nick: string;
    username?: string;
    gecos?: string;
    password?: string;
    account?: { account?: string; password?: string };
    sasl_mechanism?: string;
    sasl_disconnect_on_fail?: boolean;
    auto_reconnect?: boolean;
    auto_reconnect_max_retries?: number;
    encoding?: string;
    version?: string;
    ping_interval?: number;
    ping_timeout?: number;
    enable_echomessage?: boolean;
    [key: string]: unknown;
  }

  export interface Connection extends EventEmitter {
    connected: boolean;
    write(data: string, callback?: (err?: Error | null) => void): boolean | undefined;
    end(data?: string, hadError?: boolean): void;
  }

  export class Client extends EventEmitter {
    constructor(options?: Partial<ClientOptions>);
    connection: Connection;
    user: { nick: string; username: string; gecos: string; host: string };
    network: {
      name?: string;
      cap: { isEnabled(cap: string): boolean; available: Map<string, string> };
      supports(feature: string): unknown;
      /** A STATUSMSG target ("@#chan"): the channel and the prefix; null for any other target. */
      extractTargetGroup(target: string): { target: string; target_group: string } | null;
    };
    readonly connected: boolean;
    connect(options?: ClientOptions): void;
    quit(message?: string): void;
    changeNick(nick: string): void;
    join(channel: string, key?: string): void;
    part(channel: string, message?: string): void;
    raw(...args: string[]): void;
    /** Ask for these capabilities too, where the server offers them (before connect). */
    requestCap(cap: string | string[]): void;
    caseCompare(a: string, b: string): boolean;
    caseLower(a: string): string;
    /** Add middleware: `raw` sees every parsed line before the command handler (not calling next() stops it there). */
    use(fn: (client: Client, raw: Middleware<RawArgs>, parsed: Middleware<unknown[]>) => void): this;
    /** Restart the wait for any line from the server before the connection counts as dead (ping_timeout). */
    resetPingTimeoutTimer(): void;
  }

  /** A line as irc-framework's parser gives it (IrcMessage). */
  export interface IrcMessage {
    tags: Record<string, string | true | undefined>;
    prefix?: string;
    nick?: string;
    ident?: string;
    hostname?: string;
    command: string;
    params: string[];
  }

  type RawArgs = [command: string, message: IrcMessage, line: string, client: Client];

  export interface Middleware<A extends unknown[]> {
    use(fn: (...args: [...A, next: (err?: Error) => void]) => void): void;
  }

  const irc: { Client: typeof Client };
  export default irc;
}
