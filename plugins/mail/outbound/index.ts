/**
 * The sending side of the mail plugin: what the list side (plugins/mail/*.ts)
 * calls. See "Sending, bounces and headers" in plugins/mail/README.md.
 *
 *   const sender = new ListSender(ctx, config.smtp);
 *   sender.onBounce = (e) => scores.bounce(e);
 *   return sender.deliverPost(post, to, list, () => subscribers(list), links);
 */
export { smtpSchema, type SmtpConfig, type DmarcPolicy } from './schema.js';
export type { ListInfo, Recipient, Links, BounceEvent, BounceRecipient } from './types.js';
export { ListSender, normaliseAddress, type ListSenderOptions } from './sender.js';
export type { DmarcResolver } from './dmarc.js';
export { parseBounce, type ParsedBounce } from './bounce.js';
export { verpDecode, verpEncode } from './verp.js';
export { listAddresses } from './headers.js';
