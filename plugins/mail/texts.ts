/**
 * The words of the list's robot mail: confirmation requests, welcome and
 * goodbye, help, notices to owners. Plain text, short, saying what happened and
 * what to do.
 */
import { plural } from '../../src/plugin.js';
import { listAddresses } from './lists.js';
import { DEFAULT_TEMPLATES, fillMail, type Templates } from './templates.js';

export interface ListWords {
  name: string;
  domain: string;
  description: string;
  /** The list's templates (welcome, goodbye, confirm); the defaults when absent. */
  templates?: Templates;
}

/** The placeholders every list template may use. */
function listValues(l: ListWords): Record<string, string> {
  const a = listAddresses(l.name, l.domain);
  return {
    list: l.name,
    post: a.post,
    request: a.request,
    join: a.join,
    leave: a.leave,
    owner: a.owner,
    description: l.description,
  };
}

const days = (ms: number) => {
  const d = Math.round(ms / 86_400_000);
  return d >= 1 ? plural(d, 'day') : plural(Math.max(1, Math.round(ms / 3_600_000)), 'hour');
};

export function confirmRequest(
  l: ListWords,
  action: 'subscribe' | 'unsubscribe',
  address: string,
  token: string,
  ttlMs: number,
): { subject: string; text: string } {
  const a = listAddresses(l.name, l.domain);
  return fillMail(l.templates?.confirm ?? DEFAULT_TEMPLATES.confirm, {
    ...listValues(l),
    address,
    action: action === 'subscribe' ? `subscribe ${address} to` : `unsubscribe ${address} from`,
    confirm: a.confirm(token),
    token,
    expires: days(ttlMs),
  });
}

export function welcome(l: ListWords, address: string): { subject: string; text: string } {
  return fillMail(l.templates?.welcome ?? DEFAULT_TEMPLATES.welcome, { ...listValues(l), address });
}

export function goodbye(l: ListWords, address: string): { subject: string; text: string } {
  return fillMail(l.templates?.goodbye ?? DEFAULT_TEMPLATES.goodbye, { ...listValues(l), address });
}

export function help(l: ListWords): { subject: string; text: string } {
  const a = listAddresses(l.name, l.domain);
  return {
    subject: `Help for ${l.name}`,
    text: [
      `The list ${a.post}${l.description ? ` (${l.description})` : ''}:`,
      '',
      `  post            write to ${a.post}`,
      `  subscribe       send any mail to ${a.join}`,
      `  unsubscribe     send any mail to ${a.leave}`,
      `  the owners      write to ${a.owner}`,
      '',
      `Or write one of these words as the subject or the first lines of a mail to ${a.request}:`,
      '  subscribe, unsubscribe, help, confirm TOKEN',
      '',
      'Each subscribe and unsubscribe is confirmed by a reply to the mail that asks for it.',
    ].join('\n'),
  };
}

export function notice(
  l: ListWords,
  kind: 'already' | 'not-member' | 'expired' | 'unknown-token',
  address: string,
): { subject: string; text: string } {
  const a = listAddresses(l.name, l.domain);
  switch (kind) {
    case 'already':
      return {
        subject: `${l.name}: already subscribed`,
        text: `${address} is already subscribed to ${a.post}; nothing changed.\n\nTo unsubscribe, send any mail to ${a.leave}.`,
      };
    case 'not-member':
      return {
        subject: `${l.name}: not subscribed`,
        text: `${address} is not subscribed to ${a.post}, so there is nothing to unsubscribe.\n\nIf you are subscribed under another address, send from that address.`,
      };
    case 'expired':
      return {
        subject: `${l.name}: the confirmation expired`,
        text: `That confirmation has expired; nothing changed.\n\nTo try again, send any mail to ${a.join} (to subscribe) or ${a.leave} (to unsubscribe).`,
      };
    case 'unknown-token':
      return {
        subject: `${l.name}: unknown confirmation`,
        text: `That confirmation is not known here (it was used already, or mistyped); nothing changed.\n\nFor help, write "help" to ${a.request}.`,
      };
  }
}

export function heldNotice(
  l: ListWords,
  id: number,
  sender: string,
  subject: string,
  reason: string,
): { subject: string; text: string } {
  return {
    subject: `${l.name}: post #${id} from ${sender} awaits approval`,
    text: [
      `A post to ${l.name} was held: ${reason}.`,
      '',
      `  from:     ${sender}`,
      `  subject:  ${subject || '(none)'}`,
      '',
      'On the server, decide with:',
      `  peerpost held ${l.name} approve ${id}     (post it)`,
      `  peerpost held ${l.name} reject ${id}      (refuse it; the sender is told)`,
      `  peerpost held ${l.name} discard ${id}     (drop it silently)`,
    ].join('\n'),
  };
}

export function heldForSender(l: ListWords, subject: string, reason: string): { subject: string; text: string } {
  return {
    subject: `${l.name}: your post waits for approval`,
    text: `Your post "${subject || '(no subject)'}" to ${l.name}@${l.domain} waits for an owner's approval: ${reason}.\nYou will hear from the list if it is refused.`,
  };
}

export function heldExpiredNotice(
  l: ListWords,
  id: number,
  sender: string,
  subject: string,
  days: number,
): { subject: string; text: string } {
  return {
    subject: `${l.name}: held post #${id} from ${sender} expired`,
    text: [
      `Post #${id} to ${l.name}, held for the owners, waited ${plural(days, 'day')} without a decision and was dropped (held.expire).`,
      '',
      `  from:     ${sender}`,
      `  subject:  ${subject || '(none)'}`,
      '',
      `The sender may send it again. To let ${sender} post without approval:`,
      `  peerpost subscribers ${l.name} add ${sender}`,
    ].join('\n'),
  };
}

export function heldExpiredForSender(l: ListWords, subject: string, days: number): { subject: string; text: string } {
  return {
    subject: `${l.name}: your post was not approved in time`,
    text: `Your post "${subject || '(no subject)'}" to ${l.name}@${l.domain} waited ${plural(days, 'day')} for an owner's approval and was dropped. You may send it again.`,
  };
}

export function rejectedForSender(l: ListWords, subject: string, reason: string): { subject: string; text: string } {
  return {
    subject: `${l.name}: your post was not accepted`,
    text: `Your post "${subject || '(no subject)'}" to ${l.name}@${l.domain} was not accepted by the owners${reason ? `: ${reason}` : ''}.`,
  };
}

export function bounceDisabled(
  l: ListWords,
  address: string,
  score: number,
  reason: string,
): { subject: string; text: string } {
  return {
    subject: `${l.name}: delivery to ${address} disabled (bounces)`,
    text: [
      `Mail to ${address} kept bouncing (bounce score ${score}); the list no longer sends to it.`,
      `Last reason: ${reason || '(none given)'}`,
      '',
      'The address stays subscribed. To send to it again:',
      `  peerpost subscribers ${l.name} add ${address}      (re-enables delivery)`,
      `To remove it:  peerpost subscribers ${l.name} remove ${address}`,
    ].join('\n'),
  };
}

/** The owner page's one-time login link (asked for on /l/LIST/owner). */
export function loginLink(
  l: ListWords,
  address: string,
  link: string,
  validMs: number,
): { subject: string; text: string } {
  const a = listAddresses(l.name, l.domain);
  const minutes = Math.max(1, Math.round(validMs / 60_000));
  return {
    subject: `${l.name}: your link to the list's owner page`,
    text: [
      `Someone (hopefully you) asked for a link to the owner page of ${a.post}, for ${address}.`,
      '',
      'Open this link to log in (it works once, within',
      `${plural(minutes, 'minute')}):`,
      '',
      `  ${link}`,
      '',
      'If you did not ask for it, ignore this message: nothing happens without the link.',
    ].join('\n'),
  };
}
