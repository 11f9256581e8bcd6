/** The test plugin with the feed style (like the web): protocol "sinkfeed". */
import { sinkPlugin } from './sink-plugin.js';
export default sinkPlugin('sinkfeed', 'feed');
