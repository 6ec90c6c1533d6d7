// even-admin's UI: one page, five views chosen by the URL's hash (#/dashboard, #/streams,
// #/stream/NAME, #/event/ID, #/tail, #/projections). It polls the JSON API of admin_api.h.
//
// Every text that comes from the store or the services (names, types, payloads, errors) goes into
// the page as a text node (el() below, textContent), never as HTML: a stream named <script> is
// shown, not run. The server's Content-Security-Policy forbids inline scripts as a second wall.
'use strict';

// --- small helpers ---------------------------------------------------------------------------
// el('div', {class: 'x', onclick: f}, 'text', child, ...): an element; strings become text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'style') Object.assign(e.style, v);  // CSSOM: a style attribute would break the CSP
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// Replaces node's children; null, undefined and false children are left out.
function put(node, ...children) {
  node.replaceChildren(...children.flat().filter(c => c !== undefined && c !== null && c !== false));
}

// A link inside the UI: '#/' + the view and its argument, encoded (never a javascript: URL).
function link(view, arg, ...text) {
  return el('a', {href: '#/' + view + (arg === undefined ? '' : '/' + encodeURIComponent(arg))}, ...text);
}

async function api(path, options) {
  const res = await fetch(path, Object.assign({credentials: 'same-origin', headers: {Accept: 'application/json'}},
                                              options || {}));
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) throw new Error((body && body.error) || ('HTTP ' + res.status));
  return body;
}

const fmt = {
  num(v, digits) {
    if (v === undefined || v === null || Number.isNaN(v)) return '–';
    return Number(v).toLocaleString('en-US', {maximumFractionDigits: digits === undefined ? 0 : digits});
  },
  secs(v) {
    if (v === undefined || v === null) return '–';
    if (v < 90) return fmt.num(v, 0) + ' s';
    if (v < 5400) return fmt.num(v / 60, 0) + ' min';
    return fmt.num(v / 3600, 1) + ' h';
  },
};

function badge(state) {
  const good = ['ready', 'running', 'live', 'master'];
  const meh = ['standby', 'starting', 'rebuilding', 'resetting', 'catching up', 'not ready'];
  const cls = good.includes(state) ? 'ok' : meh.includes(state) ? 'warn' : 'bad';
  return el('span', {class: 'badge ' + cls}, state || '?');
}

function setStatus(text, isError) {
  const s = document.getElementById('status');
  s.textContent = text;
  s.className = isError ? 'error' : 'muted';
}

// --- views -------------------------------------------------------------------------------------
// A view is a function(root, arg) that fills root and returns a stop function (timers, etc.).
let config = {allow_admin_actions: false, tail_max_events: 200, page_events: 25, scrape_interval_ms: 1000};
let stopView = () => {};

function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    try { await fn(); } catch (e) { setStatus(e.message, true); }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

// Line charts on a canvas: series = [{label, color, points: [[t, v], ...]}].
function drawChart(canvas, series, unit) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio); }
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  const all = series.flatMap(s => s.points);
  const left = 58, right = 8, top = 8, bottom = 20;
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#6a7383';
  if (all.length < 2) { g.fillText('waiting for data…', left, h / 2); return; }
  const t0 = Math.min(...all.map(p => p[0])), t1 = Math.max(...all.map(p => p[0]));
  let v1 = Math.max(...all.map(p => p[1]));
  let v0 = Math.min(0, ...all.map(p => p[1]));
  if (v1 === v0) v1 = v0 + 1;
  v1 += (v1 - v0) * 0.08;
  const x = t => left + (t1 === t0 ? 0 : (t - t0) / (t1 - t0)) * (w - left - right);
  const y = v => top + (1 - (v - v0) / (v1 - v0)) * (h - top - bottom);
  g.strokeStyle = '#e4e7ec';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = v0 + (v1 - v0) * i / 4;
    g.beginPath(); g.moveTo(left, y(v)); g.lineTo(w - right, y(v)); g.stroke();
    g.fillText(fmt.num(v, v1 < 10 ? 1 : 0) + (unit ? ' ' + unit : ''), 2, y(v) + 4);
  }
  g.fillText(new Date(t0).toLocaleTimeString(), left, h - 4);
  const end = new Date(t1).toLocaleTimeString();
  g.fillText(end, w - right - g.measureText(end).width, h - 4);
  for (const s of series) {
    if (s.points.length === 0) continue;
    g.strokeStyle = s.color;
    g.lineWidth = 1.8;
    g.beginPath();
    s.points.forEach((p, i) => (i ? g.lineTo(x(p[0]), y(p[1])) : g.moveTo(x(p[0]), y(p[1]))));
    g.stroke();
  }
}

const palette = ['#2f6fdf', '#d9480f', '#1f8a4c', '#8e44ad', '#b7791f', '#0b7285', '#c2255c'];

function chartBox(title) {
  const canvas = el('canvas');
  const legend = el('div', {class: 'legend'});
  const box = el('div', {class: 'card chart'}, el('h3', {}, title), canvas, legend);
  return {
    box,
    draw(series, unit) {
      drawChart(canvas, series, unit);
      put(legend, ...series.map(s => el('span', {}, el('i', {style: {background: s.color}}), s.label)));
    },
  };
}

function serviceCard(endpoint, s) {
  const rows = [];
  const row = (k, v) => rows.push(el('dt', {}, k), el('dd', {}, v));
  const role = s.role || s.state;
  if (s.kind === 'writer') {
    row('appends/s', fmt.num(s.appends_per_s, 1));
    row('events/s', fmt.num(s.events_per_s, 1));
    row('commit p99', '≤ ' + fmt.num(s.commit_p99_ms, 1) + ' ms');
    row('queue', fmt.num(s.queue));
    row('events committed', fmt.num(s.events_committed));
  } else if (s.kind === 'dispatcher') {
    row('events/s', fmt.num(s.events_per_s, 1));
    row('position', fmt.num(s.position));
    row('store head', fmt.num(s.store_head));
    row('lag', fmt.num(s.lag));
    row('subscribers', fmt.num(s.subscribers));
  } else if (s.kind === 'reader') {
    row('requests/s', fmt.num(s.requests_per_s, 1));
    row('p99', '≤ ' + fmt.num(s.p99_ms, 1) + ' ms');
    row('workers busy', fmt.num(s.workers_busy) + ' of ' + fmt.num(s.workers));
  } else if (s.kind === 'projector') {
    row('head seen', fmt.num(s.head));
    for (const p of s.projections || []) row(p.name, p.state + ', lag ' + fmt.num(p.lag));
  }
  return el('div', {class: 'card service', 'data-kind': s.kind},
            el('h3', {}, el('span', {}, 'even-' + s.kind), badge(role)),
            el('div', {class: 'muted'}, endpoint),
            s.status ? el('div', {class: 'muted'}, s.status) : null,
            el('dl', {}, rows));
}

function viewDashboard(root) {
  const cards = el('div', {class: 'cards', id: 'services'});
  const charts = {
    rate: chartBox('Events appended per second'),
    p99: chartBox('Commit time p99 (ms)'),
    position: chartBox('Dispatcher position and store head'),
    lag: chartBox('Projection lag (events)'),
  };
  put(root, el('h1', {}, 'Dashboard'), cards,
                       el('div', {class: 'charts'}, Object.values(charts).map(c => c.box)));
  return every(config.scrape_interval_ms, async () => {
    const d = await api('/api/dashboard');
    const list = [];
    for (const ep of d.services) {
      if (!ep.up) {
        list.push(el('div', {class: 'card service'}, el('h3', {}, el('span', {}, ep.endpoint), badge('down')),
                     el('div', {class: 'error'}, ep.error || '')));
        continue;
      }
      for (const s of ep.services) list.push(serviceCard(ep.endpoint, s));
    }
    if (list.length === 0) list.push(el('p', {class: 'muted'}, 'No services to scrape (--admin.metrics-endpoint).'));
    put(cards, ...list);
    const h = d.history;
    const pts = key => h.filter(p => p[key] !== undefined).map(p => [p.t, p[key]]);
    charts.rate.draw([{label: 'events/s', color: palette[0], points: pts('append_rate')}]);
    charts.p99.draw([{label: 'p99 commit', color: palette[1], points: pts('commit_p99_ms')}], 'ms');
    charts.position.draw([{label: 'store head', color: palette[2], points: pts('store_head')},
                          {label: 'dispatcher position', color: palette[0], points: pts('dispatcher_position')}]);
    const names = [...new Set(h.flatMap(p => Object.keys(p.lags || {})))].sort();
    charts.lag.draw(names.map((n, i) => ({label: n, color: palette[i % palette.length],
                                          points: h.filter(p => p.lags && n in p.lags).map(p => [p.t, p.lags[n]])})));
    setStatus('updated ' + new Date().toLocaleTimeString());
  });
}

function viewStreams(root) {
  const input = el('input', {type: 'text', id: 'stream-search', placeholder: 'stream name prefix, e.g. account-'});
  const mode = el('select', {id: 'search-mode'}, el('option', {value: 'prefix'}, 'prefix'),
                  el('option', {value: 'category'}, 'category'));
  const results = el('div', {id: 'stream-list'});
  let after = '';
  let rows = [];
  const search = async (more) => {
    if (!more) { after = ''; rows = []; }
    let prefix = input.value.trim();
    if (prefix && mode.value === 'category') prefix += '-';
    const q = new URLSearchParams();
    if (prefix) q.set('prefix', prefix);
    if (after) q.set('after', after);
    const r = await api('/api/streams?' + q.toString());
    for (const s of r.streams) {
      rows.push(el('tr', {},
                   el('td', {class: 'name'}, link('stream', s.stream, s.stream)),
                   el('td', {class: 'num'}, fmt.num(s.version)),
                   el('td', {}, s.updated || ''),
                   el('td', {}, s.deleted ? 'deleted' : '')));
      after = s.stream;
    }
    const title = r.recent ? 'Streams written lately (the last 500 events)' :
        (rows.length + ' stream' + (rows.length === 1 ? '' : 's') + ' from “' + prefix + '”');
    put(results,
        el('h2', {}, title),
        rows.length ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'stream'), el('th', {class: 'num'}, 'version'),
                                                          el('th', {}, 'last write (UTC)'), el('th', {}, ''))),
                         el('tbody', {}, rows))
                    : el('p', {class: 'muted'}, 'No streams.'),
        r.more ? el('button', {onclick: () => search(true).catch(e => setStatus(e.message, true))}, 'More') : null);
    setStatus('');
  };
  const go = () => search(false).catch(e => setStatus(e.message, true));
  input.addEventListener('keydown', e => { if (e.key === 'Enter') go(); });
  put(root, el('h1', {}, 'Streams'),
                       el('div', {class: 'toolbar'}, input, mode, el('button', {class: 'primary', onclick: go}, 'Search')),
                       results);
  go();
  return () => {};
}

function eventDetail(e) {
  const idLink = id => (id ? link('event', id, id) : '–');
  const body = (title, b) => [el('h2', {}, title + ' ', el('span', {class: 'muted'},
                                  '(' + b.encoding + ', ' + fmt.num(b.bytes) + ' bytes' + (b.truncated ? ', cut' : '') + ')')),
                               el('pre', {class: 'body-' + title.toLowerCase()}, b.text)];
  return el('div', {class: 'detail', id: 'event-detail'},
            el('dl', {},
               el('dt', {}, 'stream'), el('dd', {}, link('stream', e.stream, e.stream)),
               el('dt', {}, 'stream sequence'), el('dd', {}, fmt.num(e.stream_seq)),
               el('dt', {}, 'global sequence'), el('dd', {}, fmt.num(e.global_seq)),
               el('dt', {}, 'type'), el('dd', {}, e.type),
               el('dt', {}, 'event id'), el('dd', {}, e.id),
               el('dt', {}, 'time (UTC)'), el('dd', {}, e.time),
               el('dt', {}, 'correlation id'), el('dd', {}, idLink(e.correlation_id)),
               el('dt', {}, 'causation id'), el('dd', {}, idLink(e.causation_id))),
            body('Metadata', e.metadata), body('Payload', e.payload));
}

function viewStream(root, name) {
  const table = el('tbody');
  const detail = el('div');
  const pager = el('div', {class: 'toolbar'});
  put(root, el('h1', {}, 'Stream ', el('span', {class: 'stream-name'}, name)),
                       el('table', {}, el('thead', {}, el('tr', {}, el('th', {class: 'num'}, 'seq'), el('th', {class: 'num'}, 'global'),
                                                         el('th', {}, 'type'), el('th', {}, 'time (UTC)'), el('th', {}, 'payload'))),
                          table),
                       pager, detail);
  const load = async (before) => {
    const q = new URLSearchParams({name});
    if (before) q.set('before', before);
    let r;
    try { r = await api('/api/stream?' + q.toString()); } catch (e) {
      put(table, el('tr', {}, el('td', {colspan: 5, class: 'error'}, e.message)));
      return;
    }
    put(table, ...r.events.map(e => {
      const tr = el('tr', {class: 'clickable'},
                    el('td', {class: 'num'}, fmt.num(e.stream_seq)), el('td', {class: 'num'}, fmt.num(e.global_seq)),
                    el('td', {}, e.type), el('td', {}, e.time),
                    el('td', {class: 'name'}, e.payload.text.slice(0, 80)));
      tr.addEventListener('click', () => {
        for (const other of table.children) other.classList.remove('selected');
        tr.classList.add('selected');
        put(detail, eventDetail(e));
      });
      return tr;
    }));
    if (r.events.length) put(detail, eventDetail(r.events[0]));
    put(pager, before ? el('button', {onclick: () => load()}, 'Newest') : null,
                          r.next_before ? el('button', {onclick: () => load(r.next_before)}, 'Older') : null,
                          el('span', {class: 'muted'}, r.events.length ? 'events ' + r.events[r.events.length - 1].stream_seq +
                                                        '–' + r.events[0].stream_seq + ', newest first' : 'no events'));
    setStatus('');
  };
  load();
  return () => {};
}

function viewEvent(root, id) {
  put(root, el('h1', {}, 'Event ', id));
  api('/api/event?id=' + encodeURIComponent(id))
      .then(e => root.appendChild(eventDetail(e)))
      .catch(e => root.appendChild(el('p', {class: 'error'}, e.message)));
  return () => {};
}

function viewTail(root) {
  const max = config.tail_max_events;
  const list = el('div', {class: 'tail-list', id: 'tail-list'});
  const category = el('input', {type: 'text', id: 'tail-category', placeholder: 'category (empty: $all)'});
  const count = el('span', {class: 'muted', id: 'tail-count'});
  let paused = false;
  let after = null;
  const pause = el('button', {id: 'tail-pause'}, 'Pause');
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
  });
  const restart = () => { after = null; put(list); };
  category.addEventListener('keydown', e => { if (e.key === 'Enter') restart(); });
  put(root, el('h1', {}, 'Live tail'),
                       el('div', {class: 'toolbar'}, category, el('button', {onclick: restart}, 'Follow'), pause, count),
                       list);
  return every(500, async () => {
    if (paused) return;
    const q = new URLSearchParams();
    if (after !== null) q.set('after', after);
    if (category.value.trim()) q.set('category', category.value.trim());
    const r = await api('/api/tail?' + q.toString());
    after = r.after;
    for (const e of r.events) {
      const row = el('div', {class: 'event new', 'data-global': e.global_seq},
                     el('span', {class: 'num'}, fmt.num(e.global_seq)),
                     el('span', {class: 'name'}, link('stream', e.stream, e.stream), ' #', String(e.stream_seq)),
                     el('span', {}, e.type), el('span', {class: 'muted'}, e.time));
      list.insertBefore(row, list.firstChild);
    }
    while (list.children.length > max) list.removeChild(list.lastChild);  // never more than max in the page
    count.textContent = list.children.length + ' of at most ' + max + ' events, after #' + fmt.num(after) +
        (category.value.trim() ? ' in category ' + category.value.trim() : ' in $all');
    setStatus('following, updated ' + new Date().toLocaleTimeString());
  });
}

function viewProjections(root) {
  const body = el('tbody');
  put(root, el('h1', {}, 'Projections'),
                       el('table', {}, el('thead', {}, el('tr', {},
                           ['name', 'kind', 'state', 'position', 'head', 'lag', 'applied', 'rate/s', 'rebuild', 'updated (UTC)',
                            'last error', ''].map(h => el('th', {class: ['position', 'head', 'lag', 'applied', 'rate/s'].includes(h) ? 'num' : ''}, h)))),
                          body),
                       el('p', {class: 'muted'}, config.allow_admin_actions
                           ? 'Rebuild resets the read model and replays every event (it asks to confirm).'
                           : 'Read-only: start even-admin with --admin.allow-admin-actions for the rebuild button.'));
  const rebuild = async (p) => {
    if (!window.confirm('Rebuild ' + p.kind + ' "' + p.name + '"? Its read model is cleared and every event replayed.')) return;
    try {
      await api('/api/projections/rebuild', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Even-Admin': '1',
                                                                        Accept: 'application/json'},
                                             body: JSON.stringify({name: p.name, stream: p.kind === 'stream'})});
      setStatus('rebuild of ' + p.name + ' requested');
    } catch (e) { setStatus(e.message, true); }
  };
  return every(2000, async () => {
    const r = await api('/api/projections');
    put(body, ...r.projections.map(p => {
      const progress = p.progress !== undefined
          ? el('span', {}, el('span', {class: 'progress'}, el('div', {style: {width: Math.round(p.progress * 100) + '%'}})),
               ' ' + Math.round(p.progress * 100) + '%' + (p.eta_s !== undefined ? ', ' + fmt.secs(p.eta_s) + ' left' : ''))
          : (p.rebuild_requested ? 'requested' : '–');
      return el('tr', {'data-projection': p.name},
                el('td', {class: 'name'}, p.name), el('td', {}, p.kind), el('td', {}, badge(p.state)),
                el('td', {class: 'num'}, fmt.num(p.position)), el('td', {class: 'num'}, fmt.num(p.head)),
                el('td', {class: 'num'}, fmt.num(p.lag)), el('td', {class: 'num'}, fmt.num(p.events_applied)),
                el('td', {class: 'num'}, fmt.num(p.rate, 1)), el('td', {}, progress), el('td', {}, p.updated),
                el('td', {class: 'error'}, p.error || ''),
                el('td', {}, config.allow_admin_actions
                    ? el('button', {class: 'danger rebuild', onclick: () => rebuild(p)}, 'Rebuild') : null));
    }));
    if (r.projections.length === 0)
      put(body, el('tr', {}, el('td', {colspan: 12, class: 'muted'}, 'No projection has a checkpoint in ' + r.query_db + '.')));
    setStatus('updated ' + new Date().toLocaleTimeString());
  });
}

const views = {dashboard: viewDashboard, streams: viewStreams, stream: viewStream, event: viewEvent, tail: viewTail,
               projections: viewProjections};

function route() {
  stopView();
  const hash = location.hash.replace(/^#\/?/, '');
  const slash = hash.indexOf('/');
  let name = slash < 0 ? hash : hash.slice(0, slash);
  const arg = slash < 0 ? undefined : decodeURIComponent(hash.slice(slash + 1));
  if (!views[name]) name = 'dashboard';
  for (const a of document.querySelectorAll('header nav a'))
    a.classList.toggle('active', a.dataset.view === name || (name === 'stream' && a.dataset.view === 'streams'));
  setStatus('');
  const root = document.getElementById('view');
  document.body.dataset.view = name;
  stopView = views[name](root, arg) || (() => {});
}

async function start() {
  try {
    config = await api('/api/config');
  } catch (e) {
    setStatus('cannot read /api/config: ' + e.message, true);
  }
  document.getElementById('mode').textContent =
      (config.allow_admin_actions ? 'admin actions allowed' : 'read-only') + (config.version ? ' · Even ' + config.version : '');
  window.addEventListener('hashchange', route);
  route();
}

document.addEventListener('DOMContentLoaded', start);
