/*
 * fusionrank homepage widget.
 *
 *   <div data-fusionrank-user="CUSTOMER-ID" data-user-token="TOKEN" data-count="8" data-key="PUBLIC-KEY"></div>
 *   <script src="https://RECO-HOST/widget.js" async></script>
 *
 * data-user-token is the token the shop's backend signed for this shopper (see the
 * README): with a public key, recommendations are personal and events are recorded only
 * for the shopper a valid token names. Without one the row shows what an unknown
 * shopper would see, and the view and click events are refused.
 * Renders a responsive row of recommendations into every such element, sends a view
 * event when the row is seen and a click event when an item is clicked, both carrying
 * the answer's request_id. Optional attributes: data-link="/product/{id}" (where a click
 * leads; {id} is replaced), data-title="Picked for you", data-server (the fusionrank
 * base URL; default: where this script came from).
 *
 * It never throws into the host page: when the service is unreachable, slow (3 s) or
 * answers an error, the element stays empty.
 */
(function () {
  'use strict';
  var TIMEOUT_MS = 3000;
  var script = document.currentScript;
  var defaultBase = '';
  try { defaultBase = new URL(script.src, location.href).origin; } catch (e) { /* keep '' */ }

  function call(base, key, method, path, body) {
    var ctl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, TIMEOUT_MS) : null;
    var init = { method: method, headers: { 'Authorization': 'Bearer ' + key }, signal: ctl && ctl.signal, credentials: 'omit' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(base + path, init).then(function (r) {
      if (timer) clearTimeout(timer);
      if (!r.ok) throw new Error('fusionrank: ' + r.status);
      return r.json();
    }, function (e) { if (timer) clearTimeout(timer); throw e; });
  }

  var styled = false;
  function style() {
    if (styled) return;
    styled = true;
    var s = document.createElement('style');
    s.textContent =
      '.frw{font:14px/1.35 system-ui,sans-serif;margin:8px 0}' +
      '.frw h3{font-size:15px;margin:0 0 6px}' +
      '.frw-row{display:grid;grid-template-columns:repeat(auto-fill,minmax(130px,1fr));gap:10px}' +
      '.frw-card{display:block;border:1px solid #ddd;border-radius:8px;padding:8px;color:inherit;text-decoration:none;background:#fff;cursor:pointer;min-width:0}' +
      '.frw-card:hover{border-color:#888}' +
      '.frw-img{height:64px;border-radius:6px;margin-bottom:6px;display:flex;align-items:center;justify-content:center;color:#fff;font-weight:600;font-size:20px}' +
      '.frw-photo{display:block;width:100%;object-fit:contain;background:#fafafa}' +
      '.frw-t{overflow:hidden;text-overflow:ellipsis;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;min-height:2.7em}' +
      '.frw-p{color:#555;margin-top:4px}';
    (document.head || document.documentElement).appendChild(s);
  }

  function hue(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360;
    return h;
  }

  function eventId(rid, item, type) {
    return (rid + ':' + item + ':' + type + ':' + Date.now().toString(36) + Math.random().toString(36).slice(2, 6)).slice(0, 128);
  }

  function send(base, key, user, token, rid, items, type) {
    var now = new Date().toISOString();
    var evs = items.map(function (id) {
      return { event_id: eventId(rid, id, type), user_id: user, item_id: id, type: type, timestamp: now, request_id: rid };
    });
    var body = { events: evs };
    if (token) body.user_token = token;
    return call(base, key, 'POST', '/v1/events', body)['catch'](function () { /* quiet */ });
  }

  function render(el) {
    if (!el || el.getAttribute('data-fusionrank-state')) return Promise.resolve();
    el.setAttribute('data-fusionrank-state', 'loading');
    var user = el.getAttribute('data-fusionrank-user');
    var key = el.getAttribute('data-key') || '';
    var token = el.getAttribute('data-user-token') || '';
    var count = parseInt(el.getAttribute('data-count') || '8', 10);
    if (!(count >= 1 && count <= 50)) count = 8;
    var base = (el.getAttribute('data-server') || defaultBase).replace(/\/$/, '');
    var link = el.getAttribute('data-link');
    if (!user || !base) { el.setAttribute('data-fusionrank-state', 'off'); return Promise.resolve(); }
    var rid, ids;
    var req = { user_id: user, count: count };
    if (token) req.user_token = token;
    return call(base, key, 'POST', '/v1/recommendations', req).then(function (ans) {
      rid = ans.request_id;
      ids = (ans.items || []).map(function (it) { return it.id; });
      if (!ids.length) throw new Error('fusionrank: nothing to show');
      return call(base, key, 'GET', '/widget/items?ids=' + ids.map(encodeURIComponent).join(','));
    }).then(function (meta) {
      var byId = {};
      (meta.items || []).forEach(function (it) { byId[it.id] = it; });
      style();
      var box = document.createElement('div');
      box.className = 'frw';
      var title = el.getAttribute('data-title');
      if (title) {
        var h = document.createElement('h3');
        h.textContent = title;
        box.appendChild(h);
      }
      var row = document.createElement('div');
      row.className = 'frw-row';
      ids.forEach(function (id) {
        var it = byId[id] || { id: id, title: id };
        var a = document.createElement('a');
        a.className = 'frw-card';
        a.setAttribute('data-item', id);
        if (link) a.href = link.split('{id}').join(encodeURIComponent(id));
        // The item's photo when it has one; a letter tile otherwise, or when the
        // photo does not load.
        var img = document.createElement('div');
        img.className = 'frw-img';
        img.style.background = 'hsl(' + hue(it.category || it.title || id) + ',45%,55%)';
        img.textContent = (it.title || id).charAt(0).toUpperCase();
        if (it.image_url) {
          var tile = img;
          img = document.createElement('img');
          img.className = 'frw-img frw-photo';
          img.alt = it.title || id;
          img.src = it.image_url.charAt(0) === '/' ? base + it.image_url : it.image_url;
          img.addEventListener('error', function (ev) {
            var bad = ev.target;
            if (bad.parentNode) bad.parentNode.replaceChild(tile, bad);
          });
        }
        var t = document.createElement('div');
        t.className = 'frw-t';
        t.textContent = it.title || id;
        a.appendChild(img);
        a.appendChild(t);
        if (typeof it.price === 'number') {
          var p = document.createElement('div');
          p.className = 'frw-p';
          p.textContent = it.price.toFixed(2);
          a.appendChild(p);
        }
        a.addEventListener('click', function (ev) {
          var sent = send(base, key, user, token, rid, [id], 'click');
          if (a.href && !ev.defaultPrevented && !ev.metaKey && !ev.ctrlKey) {
            // Give the click event a moment to leave before the page unloads.
            ev.preventDefault();
            var go = function () { location.href = a.href; };
            var t = setTimeout(go, 300);
            sent.then(function () { clearTimeout(t); go(); });
          }
        });
        row.appendChild(a);
      });
      box.appendChild(row);
      el.textContent = '';
      el.appendChild(box);
      el.setAttribute('data-fusionrank-state', 'shown');
      el.setAttribute('data-request-id', rid);
      var viewed = false;
      var seen = function () {
        if (viewed) return;
        viewed = true;
        send(base, key, user, token, rid, ids, 'view');
      };
      if (typeof IntersectionObserver === 'function') {
        var io = new IntersectionObserver(function (entries) {
          if (entries.some(function (e) { return e.isIntersecting; })) { io.disconnect(); seen(); }
        }, { threshold: 0.3 });
        io.observe(box);
      } else {
        seen();
      }
    })['catch'](function () {
      // Quiet by design: the host page must not notice a recommendation service outage.
      el.textContent = '';
      el.setAttribute('data-fusionrank-state', 'off');
    });
  }

  function renderAll() {
    try {
      var els = document.querySelectorAll('[data-fusionrank-user]');
      for (var i = 0; i < els.length; i++) render(els[i]);
    } catch (e) { /* quiet */ }
  }

  try {
    window.FusionRank = window.FusionRank || {};
    window.FusionRank.render = function (el) { try { return render(el); } catch (e) { return Promise.resolve(); } };
    window.FusionRank.renderAll = renderAll;
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', renderAll);
    else renderAll();
  } catch (e) { /* quiet */ }
})();
