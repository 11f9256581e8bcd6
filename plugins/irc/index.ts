/** The irc plugin (account.ts for now; the definition moves here next). */
export { default, accountSchema, endpointSchema, channelProblem, escapeTag, type IrcConfig } from './account.js';
