// fusionrank demo shop: a plain client of the /v1 API (and of the three small endpoints
// outside it: /demo/customers, /demo/search and /widget/items). No framework.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var COLORS = { text: 'var(--text)', collab: 'var(--collab)', attr: 'var(--attr)', image: 'var(--image)', photo: 'var(--image)' };
  var STORE = 'fusionrank-demo-keys';

  // Keys: from the link make demo prints (#public=…&read=…&write=…), else from this browser.
  var keys = {};
  try { keys = JSON.parse(localStorage.getItem(STORE) || '{}') || {}; } catch (e) { keys = {}; }
  function keysFromHash() {
    if (location.hash.length <= 1) return false;
    var hp = new URLSearchParams(location.hash.slice(1));
    ['public', 'read', 'write'].forEach(function (k) { if (hp.get(k)) keys[k] = hp.get(k); });
    try { localStorage.setItem(STORE, JSON.stringify(keys)); } catch (e) { /* private mode */ }
    history.replaceState(null, '', location.pathname + location.search); // keep keys out of the address bar
    return true;
  }
  keysFromHash();
  function showKeys() {
    var f = $('keys-form');
    ['public', 'read', 'write'].forEach(function (k) { f.elements[k].value = keys[k] || ''; });
    $('keys-summary').textContent = '(' + ['public', 'read', 'write'].filter(function (k) { return keys[k]; }).join(', ') + ' set)';
  }
  function keyFor(scope) {
    if (scope === 'public') return keys['public'] || keys.read || keys.write || '';
    if (scope === 'read') return keys.read || keys.write || '';
    return keys.write || '';
  }

  function status(msg, isError) {
    $('status').textContent = msg;
    $('status').className = isError ? 'error' : '';
  }

  // api calls the service and answers the parsed JSON; errors carry the envelope's message.
  // A 503 or 429 is retried twice (every call here is safe to repeat: events carry their id).
  function api(method, path, scope, body, attempt) {
    attempt = attempt || 0;
    var init = { method: method, headers: {} };
    var key = keyFor(scope);
    if (key) init.headers.Authorization = 'Bearer ' + key;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (t) {
        var v = null;
        try { v = t ? JSON.parse(t) : null; } catch (e) { /* not JSON */ }
        if ((r.status === 503 || r.status === 429) && attempt < 2) {
          var wait = Math.min(2000, (parseInt(r.headers.get('Retry-After') || '0', 10) * 1000) || 200 * (attempt + 1));
          return new Promise(function (ok) { setTimeout(ok, wait); }).then(function () {
            return api(method, path, scope, body, attempt + 1);
          });
        }
        if (!r.ok) {
          var msg = v && v.error ? v.error.message : t;
          throw new Error(method + ' ' + path.split('?')[0] + ': ' + r.status + ' ' + msg);
        }
        return v;
      });
    });
  }

  var titles = {}; // id → item from /widget/items
  function fetchTitles(ids) {
    var need = ids.filter(function (id, i) { return !titles[id] && ids.indexOf(id) === i; });
    if (!need.length) return Promise.resolve();
    var batches = [];
    for (var i = 0; i < need.length; i += 100) {
      batches.push(api('GET', '/widget/items?ids=' + need.slice(i, i + 100).map(encodeURIComponent).join(','), 'public')
        .then(function (ans) { ans.items.forEach(function (it) { titles[it.id] = it; }); }));
    }
    return Promise.all(batches);
  }
  function titleOf(id) { return titles[id] ? titles[id].title || id : id; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function hue(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360;
    return h;
  }
  // picture shows an item's photo (image_url of the answer or of /widget/items), and a
  // letter tile when it has none or the photo does not load.
  function picture(id, url) {
    url = url || (titles[id] && titles[id].image_url);
    var tile = el('div', 'tile', titleOf(id).charAt(0).toUpperCase());
    tile.style.background = 'hsl(' + hue((titles[id] && titles[id].category) || titleOf(id)) + ',45%,55%)';
    if (!url) return tile;
    var img = el('img', 'thumb');
    img.alt = titleOf(id);
    img.src = url;
    img.addEventListener('error', function () { if (img.parentNode) img.parentNode.replaceChild(tile, img); });
    return img;
  }
  function price(id) {
    var p = titles[id] && titles[id].price;
    return typeof p === 'number' ? p.toFixed(2) : '';
  }
  function pct(x) { return Math.round(x * 100) + '%'; }

  // A bar of the modality weights and its legend.
  function modalities(expl) {
    var wrap = el('div');
    var mods = expl && expl.modalities ? expl.modalities : {};
    var names = Object.keys(mods).sort(function (a, b) { return mods[b] - mods[a]; });
    if (!names.length) {
      wrap.appendChild(el('div', 'legend', 'no attention (fallback scoring)'));
      return wrap;
    }
    var bar = el('div', 'bar');
    names.forEach(function (m) {
      var s = el('span');
      s.style.width = (mods[m] * 100).toFixed(1) + '%';
      s.style.background = COLORS[m] || 'var(--other)';
      s.title = m + ' ' + pct(mods[m]);
      bar.appendChild(s);
    });
    wrap.appendChild(bar);
    wrap.appendChild(el('div', 'legend', names.map(function (m) { return m + ' ' + pct(mods[m]); }).join(' · ')));
    if (expl.tokens && expl.tokens.length) {
      var top = expl.tokens.slice().sort(function (a, b) { return b.weight - a.weight; })[0];
      // Tokens name query slots: "profile:text", or "recent:N", the customer's Nth most recent item.
      var m = /^recent:(\d+)$/.exec(top.token);
      var what = m && recentIds[+m[1]] ? 'recent item "' + titleOf(recentIds[+m[1]]) + '"' : top.token;
      wrap.appendChild(el('div', 'legend', 'most attended: ' + what + ' (' + pct(top.weight) + ')'));
    }
    return wrap;
  }

  var customer = '';
  var token = ''; // the customer's user token (POST /demo/user-token)
  var shown = []; // ids of the recommendations on screen
  var recentIds = []; // the customer's recent items, most recent first

  // A user token for the customer, as a shop's backend signs one for its logged-in
  // shopper: the public key gets personal answers and may send events only with it.
  function loadToken() {
    token = '';
    return api('POST', '/demo/user-token', 'read', { user_id: customer }).then(function (ans) {
      token = ans.user_token;
    })['catch'](function (e) {
      status('no user token (' + e.message + '): recommendations are not personalised', true);
    });
  }

  function showCustomer(id) {
    customer = id;
    if (!id) return Promise.resolve();
    $('customer-id').value = id;
    return loadToken().then(function () {
      showSnippet();
      return loadRecent();
    }).then(loadRecs).then(function () {
      if ($('q').value.trim()) return runSearch();
    });
  }

  function loadRecent() {
    var list = $('recent');
    return api('GET', '/v1/users/' + encodeURIComponent(customer) + '/features', 'read').then(function (f) {
      recentIds = f.recent_items;
      return fetchTitles(f.recent_items).then(function () {
        list.textContent = '';
        $('recent-note').textContent = f.recent_items.length ? 'most recent first (' + Math.min(15, f.recent_items.length) +
          ' of ' + f.recent_items.length + '); profile: ' +
          Object.keys(f.profile || {}).join(', ') : 'no history yet';
        f.recent_items.slice(0, 15).forEach(function (id) {
          var li = el('li', '', titleOf(id));
          li.setAttribute('data-item', id);
          list.appendChild(li);
        });
      });
    })['catch'](function (e) {
      list.textContent = '';
      $('recent-note').textContent = e.message;
    });
  }

  function loadRecs() {
    var box = $('recs');
    box.setAttribute('data-state', 'loading');
    var before = shown;
    var req = { user_id: customer, count: 10, explain: true };
    if (token) req.user_token = token;
    return api('POST', '/v1/recommendations', 'public', req).then(function (ans) {
      var ids = ans.items.map(function (it) { return it.id; });
      return fetchTitles(ids).then(function () {
        $('model').textContent = 'model: ' + ans.model_version + (ans.model_version === 'none' ? ' (fallback)' : '');
        $('recs-meta').textContent = (ans.personalized ? 'personalised' : 'not personalised') +
          ' · request ' + ans.request_id + (ans.warnings && ans.warnings.length ? ' · ' + ans.warnings.join('; ') : '');
        box.textContent = '';
        ans.items.forEach(function (it, i) { box.appendChild(card(it, i, ans.request_id, before)); });
        shown = ids;
        box.setAttribute('data-request-id', ans.request_id);
        box.setAttribute('data-state', 'ready');
        box.setAttribute('data-items', ids.join(','));
      });
    })['catch'](function (e) {
      box.setAttribute('data-state', 'error');
      status(e.message, true);
    });
  }

  function card(it, i, rid, before) {
    var c = el('div', 'card');
    c.setAttribute('data-item', it.id);
    if (before.length && before.indexOf(it.id) < 0) c.classList.add('new');
    c.appendChild(picture(it.id, it.image_url));
    c.appendChild(el('div', 'rank', '#' + (i + 1) + ' · score ' + it.score.toFixed(3)));
    c.appendChild(el('div', 'title', titleOf(it.id)));
    var meta = el('div', 'meta');
    var cat = titles[it.id] && titles[it.id].category;
    meta.textContent = [it.id, cat, price(it.id)].filter(Boolean).join(' · ') + ' ';
    meta.appendChild(el('span', 'badge', it.source || 'unknown source'));
    c.appendChild(meta);
    c.appendChild(modalities(it.explanation));
    var actions = el('div', 'actions');
    var click = el('button', 'ghost click', 'Click');
    var buy = el('button', 'buy', 'Buy');
    click.addEventListener('click', function () { sendEvent(it.id, 'click', rid, [click, buy]); });
    buy.addEventListener('click', function () { sendEvent(it.id, 'purchase', rid, [click, buy]); });
    actions.appendChild(click);
    actions.appendChild(buy);
    c.appendChild(actions);
    return c;
  }

  function sendEvent(item, type, rid, buttons) {
    buttons.forEach(function (b) { b.disabled = true; });
    var ev = {
      event_id: 'demo-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 8),
      user_id: customer, item_id: item, type: type, timestamp: new Date().toISOString(), request_id: rid
    };
    var old = shown;
    var body = { events: [ev] };
    if (token) body.user_token = token;
    return api('POST', '/v1/events', type === 'purchase' ? 'write' : 'public', body).then(function (res) {
      if (res.rejected && res.rejected.length) throw new Error('event rejected: ' + res.rejected[0].error);
      return loadRecent().then(loadRecs).then(function () {
        var changed = shown.filter(function (id) { return old.indexOf(id) < 0; }).length;
        status(type + ' of "' + titleOf(item) + '" recorded; ' + changed + ' of ' + shown.length + ' recommendations are new');
        $('recs').setAttribute('data-events', String(+($('recs').getAttribute('data-events') || 0) + 1));
      });
    })['catch'](function (e) {
      buttons.forEach(function (b) { b.disabled = false; });
      status(type === 'purchase' && !keys.write ? 'purchases need a write key (see API keys above): ' + e.message : e.message, true);
    });
  }

  function runSearch() {
    var q = $('q').value.trim();
    var lex = $('lexical'), rr = $('reranked');
    if (!q) return Promise.resolve();
    lex.setAttribute('data-state', 'loading');
    return api('GET', '/demo/search?count=20&q=' + encodeURIComponent(q), 'read').then(function (ans) {
      ans.items.forEach(function (it) { titles[it.id] = titles[it.id] || it; });
      lex.textContent = '';
      rr.textContent = '';
      if (!ans.items.length) {
        lex.appendChild(el('li', '', 'no title contains these words'));
        return;
      }
      ans.items.forEach(function (it) {
        var li = el('li', '', it.title + ' ');
        li.setAttribute('data-item', it.id);
        li.appendChild(el('small', '', it.score.toFixed(2)));
        lex.appendChild(li);
      });
      lex.setAttribute('data-state', 'ready');
      var req = { query: { text: q }, items: ans.items.map(function (it) { return { id: it.id, score: it.score }; }), explain: true };
      if (customer) req.user_id = customer;
      return api('POST', '/v1/rerank', 'read', req).then(function (r) {
        $('rerank-meta').textContent = 'model ' + r.model_version + (r.personalized ? ', for ' + customer : ', not personalised');
        var pos = {};
        ans.items.forEach(function (it, i) { pos[it.id] = i; });
        r.items.forEach(function (it, i) {
          var li = el('li', '', titleOf(it.id) + ' ');
          li.setAttribute('data-item', it.id);
          var d = pos[it.id] - i;
          li.appendChild(el('span', 'move ' + (d > 0 ? 'up' : d < 0 ? 'down' : 'same'), d > 0 ? '▲' + d : d < 0 ? '▼' + (-d) : '='));
          var mods = it.explanation && it.explanation.modalities;
          if (mods && Object.keys(mods).length) {
            var names = Object.keys(mods).sort(function (a, b) { return mods[b] - mods[a]; });
            li.appendChild(el('small', 'mods', ' ' + names.map(function (m) { return m + ' ' + pct(mods[m]); }).join(' · ')));
          }
          // Which query words (and query photo) carried the result: the attention on the
          // word slots ("word:red") and query-vector slots ("query:photo").
          var words = ((it.explanation && it.explanation.tokens) || []).filter(function (t) {
            return /^(word|query):/.test(t.token);
          });
          if (words.length) {
            li.appendChild(el('div', 'tokens', 'carried by: ' + words.map(function (t) {
              return t.token.replace(/^word:/, '"').replace(/^(".*)$/, '$1"') + ' ' + pct(t.weight);
            }).join(' · ')));
          } else if (r.model_version !== 'none') {
            li.appendChild(el('div', 'tokens', 'carried by the shopper, not the words'));
          }
          rr.appendChild(li);
        });
        rr.setAttribute('data-state', 'ready');
      });
    })['catch'](function (e) { status(e.message, true); });
  }

  // Search by photo: the photo (a sample or an upload) and the optional words go to
  // POST /v1/search as multipart/form-data.
  var photoBlob = null;
  function setPhoto(blob) {
    photoBlob = blob;
    var prev = $('photo-preview');
    if (prev.src) URL.revokeObjectURL(prev.src);
    prev.src = URL.createObjectURL(blob);
    prev.hidden = false;
  }
  function loadSamples() {
    return api('GET', '/demo/photos', 'read').then(function (ans) {
      var sel = $('sample');
      while (sel.options.length > 1) sel.remove(1);
      ans.photos.forEach(function (p, i) {
        var o = el('option', '', p.label);
        o.value = String(i);
        sel.appendChild(o);
      });
      sel.setAttribute('data-state', 'ready');
    })['catch'](function () { /* upload only */ });
  }
  function pickSample(n) {
    if (n === '') return Promise.resolve();
    var init = { headers: { Authorization: 'Bearer ' + keyFor('read') } };
    return fetch('/demo/photos/' + n, init).then(function (r) {
      if (!r.ok) throw new Error('sample photo: ' + r.status);
      return r.blob();
    }).then(setPhoto)['catch'](function (e) { status(e.message, true); });
  }
  function runPhotoSearch() {
    var box = $('photo-results');
    if (!photoBlob) { status('pick or upload a photo first', true); return Promise.resolve(); }
    box.setAttribute('data-state', 'loading');
    var req = { count: 8, explain: true, query: {} };
    var words = $('photo-words').value.trim();
    if (words) req.query.text = words;
    if (customer) req.user_id = customer;
    var form = new FormData();
    form.append('request', JSON.stringify(req));
    form.append('image', photoBlob, 'photo');
    return fetch('/v1/search', { method: 'POST', headers: { Authorization: 'Bearer ' + keyFor('read') }, body: form }).then(function (r) {
      return r.json().then(function (ans) {
        if (!r.ok) throw new Error('POST /v1/search: ' + r.status + ' ' + (ans.error ? ans.error.message : ''));
        return ans;
      });
    }).then(function (ans) {
      var ids = ans.items.map(function (it) { return it.id; });
      return fetchTitles(ids).then(function () {
        $('photo-meta').textContent = 'model ' + ans.model_version + ' · image encoder ' + (ans.image_encoder || 'none') +
          (ans.warnings && ans.warnings.length ? ' · ' + ans.warnings.join('; ') : '');
        box.textContent = '';
        ans.items.forEach(function (it, i) {
          var c = el('div', 'card');
          c.setAttribute('data-item', it.id);
          c.appendChild(picture(it.id, it.image_url));
          c.appendChild(el('div', 'rank', '#' + (i + 1) + ' · score ' + it.score.toFixed(3)));
          c.appendChild(el('div', 'title', titleOf(it.id)));
          var cat = titles[it.id] && titles[it.id].category;
          if (cat) c.appendChild(el('div', 'meta', cat));
          c.appendChild(modalities(it.explanation));
          var toks = (it.explanation && it.explanation.tokens) || [];
          if (toks.length) {
            c.appendChild(el('div', 'tokens', 'carried by: ' + toks.map(function (t) {
              return t.token.replace(/^query:photo$/, 'the photo').replace(/^word:/, '"') + (t.token.indexOf('word:') === 0 ? '"' : '') + ' ' + pct(t.weight);
            }).join(' · ')));
          }
          box.appendChild(c);
        });
        box.setAttribute('data-items', ids.join(','));
        box.setAttribute('data-state', 'ready');
      });
    })['catch'](function (e) {
      box.setAttribute('data-state', 'error');
      status(e.message, true);
    });
  }

  function showSnippet() {
    var pub = keys['public'] || 'PUBLIC-KEY';
    var html = '<div data-fusionrank-user="' + customer + '" data-user-token="' + (token || 'USER-TOKEN') +
      '" data-count="6" data-key="' + pub + '"></div>\n' +
      '<script src="' + location.origin + '/widget.js" async></' + 'script>';
    $('snippet').textContent = html;
    var slot = $('widget-slot');
    slot.textContent = '';
    if (!window.FusionRank) return;
    var div = el('div');
    div.setAttribute('data-fusionrank-user', customer);
    if (token) div.setAttribute('data-user-token', token);
    div.setAttribute('data-count', '6');
    div.setAttribute('data-key', keys['public'] || keyFor('public'));
    div.setAttribute('data-server', location.origin);
    slot.appendChild(div);
    window.FusionRank.render(div);
  }

  function loadCustomers() {
    return api('GET', '/demo/customers?count=40', 'read').then(function (ans) {
      var sel = $('customer');
      while (sel.options.length > 1) sel.remove(1);
      ans.customers.forEach(function (c) {
        var o = el('option', '', c.id + ' (' + c.events + ' events)');
        o.value = c.id;
        sel.appendChild(o);
      });
      sel.setAttribute('data-state', 'ready');
      if (!ans.customers.length) status('no customers yet: import events or send some');
    })['catch'](function (e) { status(e.message, true); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    showKeys();
    $('keys-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var f = e.target;
      ['public', 'read', 'write'].forEach(function (k) { keys[k] = f.elements[k].value.trim(); });
      try { localStorage.setItem(STORE, JSON.stringify(keys)); } catch (err) { /* private mode */ }
      showKeys();
      status('keys saved');
      loadCustomers();
    });
    $('customer').addEventListener('change', function (e) { showCustomer(e.target.value); });
    $('customer-form').addEventListener('submit', function (e) {
      e.preventDefault();
      showCustomer($('customer-id').value.trim());
    });
    $('search-form').addEventListener('submit', function (e) { e.preventDefault(); runSearch(); });
    $('sample').addEventListener('change', function (e) { pickSample(e.target.value); });
    $('photo-file').addEventListener('change', function (e) { if (e.target.files[0]) setPhoto(e.target.files[0]); });
    $('photo-form').addEventListener('submit', function (e) { e.preventDefault(); runPhotoSearch(); });
    // The link make demo prints, opened in a tab already on this page, changes only the hash.
    window.addEventListener('hashchange', function () {
      if (keysFromHash()) { showKeys(); status('keys saved'); loadCustomers(); }
    });
    loadCustomers();
    loadSamples();
  });
})();
