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
  }

  const irc: { Client: typeof Client };
  export default irc;
}
