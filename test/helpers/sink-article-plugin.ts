/** The test plugin with the article style (like mail and news): protocol "sinkart". */
import { sinkPlugin } from './sink-plugin.js';
export default sinkPlugin('sinkart', 'article');
