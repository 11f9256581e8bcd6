/**
 * What irc-framework is told at each connect: the account config turned into
 * its client options (TLS, SASL, the transport with peerpost's changes), and the
 * TLS files read from disk.
 */
import { readFileSync } from 'node:fs';
import type { ClientOptions } from 'irc-framework';
import { IrcTransport, CA_OPTION, FINGERPRINT_OPTION } from './transport.js';
import type { IrcConfig } from './schema.js';

/** The PEM contents of the CA and client certificate files the config names. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Read the TLS files of the config; throws the fs error (with its path) when one cannot be read. */
export function readTlsFiles(cfg: Pick<IrcConfig, 'tlsCa' | 'tlsCert' | 'tlsKey'>): TlsFiles {
  return {
    ...(cfg.tlsCa !== undefined ? { ca: readFileSync(cfg.tlsCa, 'utf8') } : {}),
    ...(cfg.tlsCert !== undefined
      ? { cert: readFileSync(cfg.tlsCert, 'utf8'), key: readFileSync(cfg.tlsKey ?? cfg.tlsCert, 'utf8') }
      : {}),
  };
}

/** The server's port: the configured one, else 6697 with TLS and 6667 without. */
export const portOf = (cfg: Pick<IrcConfig, 'port' | 'tls'>): number => cfg.port ?? (cfg.tls ? 6697 : 6667);

export function clientOptions(cfg: IrcConfig, files: TlsFiles, version: string, hostname = ''): ClientOptions {
  return {
    host: cfg.host,
    port: portOf(cfg),
    tls: cfg.tls,
    // A pinned fingerprint replaces the chain check (a self-signed server); the transport checks the pin.
    rejectUnauthorized: cfg.tlsVerify && cfg.tlsFingerprint === undefined,
    ...(cfg.tlsFingerprint !== undefined ? { [FINGERPRINT_OPTION]: cfg.tlsFingerprint } : {}),
    nick: cfg.nick,
    username: cfg.username ?? cfg.nick,
    // "peerpost relay on HOST": other peerpost nodes in the channel learn our node.hostname from it (relay.ts).
    gecos: cfg.realname.replaceAll('{hostname}', hostname),
    ...(cfg.password !== undefined ? { password: cfg.password } : {}),
    // An account object without credentials keeps irc-framework from using the server password for SASL.
    account: cfg.sasl && 'account' in cfg.sasl ? { account: cfg.sasl.account, password: cfg.sasl.password } : {},
    ...(cfg.sasl?.mechanism === 'EXTERNAL' ? { sasl_mechanism: 'EXTERNAL' } : {}),
    ...(files.ca !== undefined ? { [CA_OPTION]: files.ca } : {}),
    ...(files.cert !== undefined ? { client_certificate: { certificate: files.cert, private_key: files.key } } : {}),
    sasl_disconnect_on_fail: false,
    auto_reconnect: false,
    encoding: 'utf8',
    transport: IrcTransport,
    version,
    ping_interval: 30,
    ping_timeout: 120,
    // Where the server offers it, our own lines come back: the confirmation of a post without a PING (confirm.ts).
    enable_echomessage: true,
  };
}
