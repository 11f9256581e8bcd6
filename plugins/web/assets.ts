/**
 * The two static files of the site, served from memory: our own small
 * stylesheet and the script that makes an archive page live. No external fonts,
 * scripts or CDNs: the daemon runs offline.
 *
 * live.js builds every post with textContent, never innerHTML, so a post stays text.
 */

export const STYLE_CSS = `:root { --fg: #1d1d1f; --muted: #6a6a6f; --line: #dedee3; --bg: #fbfbfa; --accent: #2f5d8a; --new: #fff6d6; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e6e6; --muted: #9a9aa0; --line: #34343a; --bg: #17171a; --accent: #8ab4e0; --new: #3a3422; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 52rem; padding: 0 1rem 3rem; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
header.site { padding: .8rem 0; border-bottom: 1px solid var(--line); margin-bottom: 1rem; font-weight: 600; }
header.site a { text-decoration: none; }
header.site { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between; }
form.search { display: flex; gap: .3rem; font-weight: normal; }
form.search input[type=search] { font: inherit; padding: .2rem .4rem; min-width: 12rem; }
form.search button { font: inherit; }
ol.results { padding-left: 1.2rem; }
li.result { margin: .8rem 0; }
li.result .bridge, li.result .time { color: var(--muted); font-size: .85rem; }
li.result .snippet { margin: .2rem 0; }
mark { background: #ffe58a; color: inherit; padding: 0 .1em; }
p.problem { color: #a00; }
footer.site { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
h1 { font-size: 1.6rem; margin: .5rem 0; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .3rem; }
.description { margin: .2rem 0 .6rem; }
.count, .msgid, .crumbs, .dir { color: var(--muted); font-size: .9rem; }
table.endpoints { border-collapse: collapse; width: 100%; font-size: .9rem; }
table.endpoints th, table.endpoints td { text-align: left; padding: .25rem .5rem .25rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
.proto { display: inline-block; min-width: 3.2rem; font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.state { font-size: .8rem; padding: 0 .4rem; border-radius: .6rem; border: 1px solid currentColor; }
.state.up { color: #2e7d32; } .state.wait { color: #b26a00; } .state.down { color: #c62828; }
.live { font-size: .75rem; color: #2e7d32; border: 1px solid currentColor; border-radius: .6rem; padding: 0 .4rem; }
.live.off { color: var(--muted); }
.thread { border-top: 1px solid var(--line); padding: .6rem 0; }
.post { margin: .2rem 0; transition: background 3s; }
.post > header { font-size: .9rem; color: var(--muted); }
.post .author { font-weight: 600; color: var(--fg); }
.post .via { font-size: .75rem; border: 1px solid var(--line); border-radius: .3rem; padding: 0 .3rem; }
.post .time { color: var(--muted); text-decoration: none; }
.post .time:hover { text-decoration: underline; }
.post .subject { font-size: 1rem; margin: .1rem 0; }
.post .parent { font-size: .8rem; color: var(--muted); }
.post .body { white-space: pre-wrap; overflow-wrap: anywhere; margin: .1rem 0 .2rem; }
.post.action .body { font-style: italic; }
.post.digest .body { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; }
.replies { margin-left: 1.2rem; border-left: 2px solid var(--line); padding-left: .7rem; }
.replies:empty { display: none; }
.replies .replies .replies .replies .replies { margin-left: 0; }
.post.new { background: var(--new); }
nav.pages { margin: 1rem 0; display: flex; gap: 1rem; }
details.join ul { margin: .3rem 0; padding-left: 1.2rem; }
form.confirm button { font: inherit; padding: .4rem 1rem; }
form.subscribe, form.login, form.act { margin: .4rem 0; }
form.act { display: inline-block; margin-right: .4rem; }
form.subscribe input, form.login input, form.act input { font: inherit; padding: .2rem .4rem; min-width: 14rem; }
dl.list dt { font-weight: bold; } dl.list dd { margin: 0 0 .4rem 0; }
.flash { background: var(--new); padding: .4rem .6rem; }
.problem { color: #a00; font-weight: bold; }
ul.held { list-style: none; padding: 0; } li.held { border-top: 1px solid var(--line); padding: .4rem 0; }
pre.excerpt { white-space: pre-wrap; max-height: 12rem; overflow: auto; font-size: .85rem; }
table.members, table.problems { border-collapse: collapse; width: 100%; font-size: .9rem; }
table.members td, table.members th, table.problems td, table.problems th { text-align: left; padding: .25rem .5rem .25rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
.post .tlink { color: var(--muted); font-size: .8rem; }
ol.tree { list-style: none; margin: 1rem 0; padding: 0; }
ol.tree > li { border-left: 2px solid var(--line); padding: .1rem 0 .1rem .7rem; margin: .3rem 0; }
ol.tree > li.depth-0 { border-left: 0; padding-left: 0; }
${Array.from({ length: 12 }, (_, i) => `ol.tree > li.depth-${i + 1} { margin-left: ${((i + 1) * 1.2).toFixed(1)}rem; }`).join('\n')}
ol.tree .post:target { background: var(--new); }
ul.attachments { margin: .1rem 0 .3rem; padding-left: 1.2rem; font-size: .9rem; }
`;

/** A small icon, so browsers find one without asking for /favicon.ico. */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="4" cy="8" r="3" fill="#2f5d8a"/><circle cx="12" cy="8" r="3" fill="#2f5d8a"/><rect x="4" y="7" width="8" height="2" fill="#2f5d8a"/></svg>
`;

export const LIVE_JS = `// peerpost: live updates for an archive page. Posts are built as text nodes only.
(function () {
  'use strict';
  var bodyEl = document.body;
  if (bodyEl.getAttribute('data-states') && window.fetch) {
    // The index: keep each account's state current.
    var cls = function (s) { return s === 'connected' || s === 'listening' ? 'up' : s === 'retrying' || s === 'connecting' || s === 'starting' ? 'wait' : 'down'; };
    setInterval(function () {
      fetch('/api/bridges').then(function (r) { return r.json(); }).then(function (j) {
        var states = {};
        j.bridges.forEach(function (b) { b.endpoints.forEach(function (e) { states[e.account] = e.state; }); });
        document.querySelectorAll('.state[data-account]').forEach(function (el) {
          var s = states[el.getAttribute('data-account')];
          if (s) { el.textContent = s; el.className = 'state ' + cls(s); }
        });
      }).catch(function () {});
    }, 10000);
    return;
  }
  var bridge = bodyEl.getAttribute('data-bridge');
  if (!bridge || !window.WebSocket) return;
  var cursor = Number(bodyEl.getAttribute('data-cursor')) || 0;
  var threads = document.getElementById('threads');
  var badge = document.getElementById('live');
  var delay = 1000;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function find(id) {
    var all = threads.querySelectorAll('article.post');
    for (var i = 0; i < all.length; i++) if (all[i].getAttribute('data-id') === id) return all[i];
    return null;
  }
  function shortTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }
  function size(b) { return !(b >= 0) ? '? bytes' : b < 1024 ? b + (b === 1 ? ' byte' : ' bytes') : b < 1048576 ? Math.round(b / 1024) + ' kB' : (b / 1048576).toFixed(1) + ' MB'; }
  function clean(s) { return String(s).replace(/[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]/g, ''); }
  function render(p) {
    var a = el('article', 'post' + (p.kind === 'action' || p.kind === 'notice' || p.kind === 'digest' ? ' ' + p.kind : '') + ' new');
    a.id = 'p' + p.seq;
    a.setAttribute('data-id', p.id);
    a.setAttribute('data-seq', String(p.seq));
    var h = el('header');
    h.appendChild(el('span', 'author', clean(p.author.name)));
    if (p.author.address) { h.appendChild(document.createTextNode(' ')); h.appendChild(el('span', 'addr', '<' + clean(p.author.address) + '>')); }
    h.appendChild(document.createTextNode(' '));
    var via = el('span', 'via', p.author.via || p.origin.account.split('.')[0]);
    via.title = p.origin.account + '/' + p.origin.target;
    h.appendChild(via);
    h.appendChild(document.createTextNode(' '));
    var t = el('a', 'time');
    t.href = '/p/' + encodeURIComponent(p.id);
    var time = el('time', null, shortTime(p.date));
    time.setAttribute('datetime', p.date);
    t.appendChild(time);
    h.appendChild(t);
    // The whole-thread page, by the thread's root as the store names it (first Reference, else In-Reply-To, else itself).
    h.appendChild(document.createTextNode(' '));
    var tl = el('a', 'tlink', 'thread');
    tl.href = '/t/' + encodeURIComponent((p.references && p.references[0]) || p.inReplyTo || p.id) + '#p' + p.seq;
    h.appendChild(tl);
    a.appendChild(h);
    if (p.subject) a.appendChild(el('h3', 'subject', clean(p.subject)));
    a.appendChild(el('div', 'body', clean(p.body)));
    if (p.attachments && p.attachments.length) {
      var ul = el('ul', 'attachments');
      p.attachments.forEach(function (f) {
        var li = el('li');
        var name = clean(f.filename).trim() || '(no name)';
        if (f.url) { var dl = el('a', null, name); dl.href = f.url; dl.setAttribute('download', ''); li.appendChild(dl); }
        else li.appendChild(el('span', 'file', name));
        li.appendChild(document.createTextNode(' '));
        li.appendChild(el('span', 'dir', clean(f.contentType) + ', ' + size(f.size) + (f.url ? '' : ', not kept here')));
        ul.appendChild(li);
      });
      a.appendChild(ul);
    }
    a.appendChild(el('div', 'replies'));
    setTimeout(function () { a.classList.remove('new'); }, 4000);
    return a;
  }
  function add(p) {
    // Joins and parts (kind "event") are not shown on the pages.
    if (p.seq <= cursor || p.kind === 'event' || find(p.id)) { cursor = Math.max(cursor, p.seq); return; }
    cursor = p.seq;
    var total = document.getElementById('total');
    if (total) total.textContent = String(Number(total.textContent) + 1);
    var noun = document.getElementById('total-noun');
    if (total && noun) noun.textContent = total.textContent === '1' ? 'post' : 'posts';
    var node = render(p);
    var parents = [].concat(p.inReplyTo ? [p.inReplyTo] : [], (p.references || []).slice().reverse());
    for (var i = 0; i < parents.length; i++) {
      var parent = find(parents[i]);
      if (parent) {
        parent.querySelector(':scope > .replies').appendChild(node);
        var thread = parent.closest('.thread');
        if (thread && thread.parentNode === threads) threads.insertBefore(thread, threads.firstChild);
        return;
      }
    }
    var th = el('div', 'thread');
    th.appendChild(node);
    threads.insertBefore(th, threads.firstChild);
    var empty = document.querySelector('p.empty');
    if (empty) empty.remove();
  }
  // A post removed from the archive: its text goes, a line saying so stays (its replies keep their place).
  function gone(id, reason) {
    var a = find(id);
    if (!a) return;
    var replies = a.querySelector(':scope > .replies');
    while (a.firstChild) a.removeChild(a.firstChild);
    a.className = 'post removed';
    a.appendChild(el('p', 'dir', clean(reason)));
    if (replies) a.appendChild(replies);
  }
  function connect() {
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    var ws = new WebSocket(proto + '//' + location.host + '/api/stream?bridge=' + encodeURIComponent(bridge) + '&since=' + cursor);
    ws.onopen = function () { delay = 1000; if (badge) { badge.hidden = false; badge.className = 'live'; badge.textContent = 'live'; } };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.type === 'post') add(m.post);
      else if (m.type === 'removed') gone(m.id, m.reason);
    };
    ws.onclose = function () {
      if (badge) { badge.className = 'live off'; badge.textContent = 'reconnecting'; }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
`;
