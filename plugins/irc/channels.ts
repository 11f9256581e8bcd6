/** What the irc plugin knows of one configured channel on the current connection. */
export interface ChannelState {
  /** The configured spelling. */
  name: string;
  joined: boolean;
  /** A JOIN was sent and has not been answered. */
  joining: boolean;
  /** Why we are not in it (ban, bad key, kick …). */
  problem?: string;
  /** Do not try to join before this (after a kick or a refusal). */
  notBefore: number;
  /** The server refused our lines here (+m, +b …): shown in the status until a line gets through. */
  refused?: string;
}
