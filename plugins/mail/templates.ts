/**
 * Per-list texts (issue 16): the footer of every list mail, and the welcome, goodbye and confirmation mails.
 * A list's `templates: DIR` (relative to the config file's directory) may hold footer.txt, digest-footer.txt,
 * welcome.txt, goodbye.txt and confirm.txt; each file it lacks is the default below. The first line of welcome,
 * goodbye and confirm is the Subject ("Subject: …"), the rest the text.
 *
 * Placeholders are {{name}}; an unknown one is an error at start (file:line), not a blank in every mail.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const TEMPLATE_NAMES = ['footer', 'digest-footer', 'welcome', 'goodbye', 'confirm'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** The placeholders each template may use. */
export const PLACEHOLDERS: Record<TemplateName, readonly string[]> = {
  footer: ['list', 'post', 'request', 'leave', 'owner', 'description', 'address', 'unsubscribe', 'preferences'],
  'digest-footer': ['list', 'post', 'request', 'leave', 'owner', 'description'],
  welcome: ['list', 'post', 'request', 'leave', 'owner', 'description', 'address'],
  goodbye: ['list', 'post', 'request', 'join', 'description', 'address'],
  confirm: ['list', 'post', 'request', 'description', 'address', 'action', 'confirm', 'token', 'expires'],
};

/**
 * The defaults. In the footer, {{unsubscribe}} and {{preferences}} are the member's own links (web) or, without
 * the web, what to write and where; a line whose placeholders are all empty is left out.
 */
export const DEFAULT_TEMPLATES: Record<TemplateName, string> = {
  footer: [
    '_______________________________________________',
    '{{list}} mailing list -- to post, write to {{post}}',
    'Unsubscribe: {{unsubscribe}}',
    'Your settings (digest, no mail, own posts): {{preferences}}',
  ].join('\n'),
  'digest-footer': [
    '_______________________________________________',
    '{{list}} mailing list -- to post, write to {{post}}',
    'Unsubscribe: send any mail to {{leave}}',
    'Each post instead of the digest: write "set each" to {{request}}',
  ].join('\n'),
  welcome: [
    'Subject: Welcome to {{list}}',
    '{{address}} is now subscribed to {{post}}.',
    '',
    'To post, write to {{post}}.',
    'To unsubscribe, send any mail to {{leave}} (or use the unsubscribe link in every list mail).',
    'To get a daily digest instead of each post, write "set digest" to {{request}};',
    'to pause, "set nomail" (or "set nomail until 2027-01-10"); "show" tells your settings.',
    'For help, write "help" to {{request}}.',
  ].join('\n'),
  goodbye: [
    'Subject: You have left {{list}}',
    '{{address}} is no longer subscribed to {{post}}.',
    '',
    'To come back, send any mail to {{join}}.',
  ].join('\n'),
  confirm: [
    'Subject: confirm {{token}}',
    'Someone (hopefully you) asked to {{action}} the list {{post}}.',
    '',
    'To confirm, reply to this message (the reply goes to the confirmation address),',
    'or send any mail to {{confirm}}.',
    '',
    'If you did not ask for this, ignore this message: nothing happens, and the request',
    'expires in {{expires}}.',
  ].join('\n'),
};

export type Templates = Record<TemplateName, string>;

/** Why a template text is unusable (unknown placeholders, a missing Subject line), with its line, or undefined. */
export function templateProblem(name: TemplateName, text: string): string | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++)
    for (const m of lines[i]!.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g))
      if (!PLACEHOLDERS[name].includes(m[1]!))
        return `line ${i + 1}: unknown placeholder {{${m[1]}}}; ${name} may use ${PLACEHOLDERS[name].map((p) => `{{${p}}}`).join(', ')}`;
  if ((name === 'welcome' || name === 'goodbye' || name === 'confirm') && !/^Subject:\s*\S/i.test(lines[0] ?? ''))
    return 'line 1: the first line must be the subject, as "Subject: …"';
  if (name === 'confirm' && !/\{\{\s*(confirm|token)\s*\}\}/.test(text))
    return 'it must say how to confirm: use {{confirm}} (the address to write to) or {{token}}';
  return undefined;
}

/** A list's templates: its directory's files over the defaults. Throws with file:line when one is unusable. */
export function loadTemplates(dir: string | undefined, base: string): Templates {
  const out = { ...DEFAULT_TEMPLATES };
  if (!dir) return out;
  const abs = resolve(base, dir);
  for (const name of TEMPLATE_NAMES) {
    const file = resolve(abs, `${name}.txt`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read the template ${file}: ${(err as Error).message}`, { cause: err });
    }
    text = text.replace(/\r\n?/g, '\n').replace(/\n+$/, '');
    const p = templateProblem(name, text);
    if (p) throw new Error(`${file}:${p}`);
    out[name] = text;
  }
  return out;
}

/**
 * Fill a template. A line whose placeholders all came out empty (and that has some) is dropped, so a footer
 * without the web loses its link lines instead of showing "Unsubscribe: ".
 */
export function fill(text: string, values: Record<string, string | undefined>): string {
  return text
    .split('\n')
    .flatMap((line) => {
      let any = false;
      let filled = false;
      const out = line.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_, k: string) => {
        any = true;
        const v = values[k] ?? '';
        if (v !== '') filled = true;
        return v;
      });
      return any && !filled ? [] : [out];
    })
    .join('\n');
}

/** A filled mail template: its Subject line and its text. */
export function fillMail(text: string, values: Record<string, string | undefined>): { subject: string; text: string } {
  const filled = fill(text, values);
  const nl = filled.indexOf('\n');
  const first = nl < 0 ? filled : filled.slice(0, nl);
  return {
    subject: first.replace(/^Subject:\s*/i, '').trim(),
    text: nl < 0 ? '' : filled.slice(nl + 1).replace(/^\n+/, ''),
  };
}
