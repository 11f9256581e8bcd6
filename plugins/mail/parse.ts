/**
 * The mail-specific part of reading a received mail: the command lines of a mail to LIST-request@. The message
 * itself is parsed by the core's parser (src/message/parse.ts), which the plugin API exports.
 */
export {
  MAX_HEADER_BYTES,
  cleanBody,
  headerSection,
  isRefusal,
  oneLine,
  parseMessage,
  rawHeaders,
  type ParsedMessage,
  type Refusal,
} from '../../src/plugin.js';

/**
 * Commands of a mail to LIST-request@ (and the first lines of a reply to a
 * confirmation): the subject, then the body's first lines up to the first
 * blank line after a command, quoted lines and signatures skipped.
 */
export function commandLines(subject: string, body: string, maxLines = 10): string[] {
  const out: string[] = [];
  const subj = subject.replace(/^((re|aw|sv|fwd?)\s*:\s*)+/i, '').trim();
  if (subj) out.push(subj);
  let taken = 0;
  for (const line of body.split('\n')) {
    const t = line.trim();
    if (t === '-- ' || t === '--') break;
    if (!t) {
      if (taken) break;
      continue;
    }
    if (t.startsWith('>')) continue;
    out.push(t);
    if (++taken >= maxLines) break;
  }
  return out;
}
