// kvindex dashboard: plain JS, no build step. Polls the service's own JSON routes once a second.

const POLL_MS = 1000;
const HISTORY = 90;
const history = new Map(); // model key -> events/s samples
let recent = [];
let lastModels = [];

/** JSON with u64 ids kept exact: long integers become strings before JSON.parse sees them. */
function parseExact(text) {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
}

async function getJson(url) {
  const res = await fetch(url, { cache: 'no-store' });
  return { status: res.status, body: parseExact(await res.text()) };
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const n = (x) => (x === null || x === undefined ? '–' : fmt.format(x));
const ms = (x) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);

function spark(samples) {
  const w = 220;
  const h = 36;
  const max = Math.max(1, ...samples);
  const step = w / Math.max(1, HISTORY - 1);
  const offset = HISTORY - samples.length;
  const d = samples
    .map(
      (v, i) =>
        `${i === 0 ? 'M' : 'L'}${((offset + i) * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`,
    )
    .join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

function tierBar(parts, total) {
  const bar = el('div', { class: 'bar' });
  // Drawn back to front: disk ≥ cpu ≥ gpu (cumulative).
  for (const [cls, value] of parts) {
    const pct = total > 0 ? Math.min(100, (100 * value) / total) : 0;
    bar.append(el('span', { class: cls, style: `width:${pct}%` }));
  }
  return bar;
}

function renderModels(models) {
  const root = document.getElementById('models');
  root.replaceChildren();
  if (models.length === 0) {
    root.append(
      el('p', {
        class: 'empty',
        text: 'No models yet: register a worker (POST /register) or PUT /v1/models/{model}/workers.',
      }),
    );
    return;
  }
  for (const m of models) {
    const key = `${m.model_name}:${m.routing_group}`;
    const samples = history.get(key) ?? [];
    samples.push(m.events_per_second);
    if (samples.length > HISTORY) samples.shift();
    history.set(key, samples);
    const maxBlocks = Math.max(
      1,
      ...m.workers.map((w) => w.blocks.device + w.blocks.host_pinned + w.blocks.disk + w.blocks.external),
    );
    const rows = m.workers.map((w) => {
      const lower = w.blocks.host_pinned + w.blocks.disk + w.blocks.external;
      return el(
        'tr',
        { 'data-worker': `${w.instance_id}:${w.dp_rank}` },
        el('td', { text: String(w.instance_id) }),
        el('td', { class: 'num', text: String(w.dp_rank) }),
        el('td', {}, el('span', { class: `badge ${w.status}`, text: w.status, title: w.last_error ?? '' })),
        el('td', { class: 'num blocks-device', text: n(w.blocks.device) }),
        el('td', { class: 'num', text: n(lower) }),
        el(
          'td',
          {},
          tierBar(
            [
              ['disk', w.blocks.device + lower],
              ['gpu', w.blocks.device],
            ],
            maxBlocks,
          ),
        ),
        el('td', { class: 'num', text: n(w.events) }),
        el('td', { class: 'num', text: `${n(w.gaps)} / ${n(w.replays)}` }),
        el('td', {
          class: 'num',
          text: n(Object.values(w.dropped ?? {}).reduce((a, x) => a + x, 0)),
          title: Object.entries(w.dropped ?? {})
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n'),
        }),
        el('td', {
          class: 'num',
          text: w.lag_seconds === null ? '–' : `${(w.lag_seconds * 1000).toFixed(0)} ms`,
        }),
      );
    });
    const card = el(
      'section',
      { class: 'card model', 'data-model': key },
      el(
        'div',
        { class: 'model-head' },
        el('h2', { text: `${m.model_name} · ${m.routing_group}` }),
        el(
          'div',
          { class: 'model-stats' },
          el('span', {}, 'block size ', el('b', { text: String(m.block_size) })),
          el('span', {}, 'workers ', el('b', { class: 'model-instances', text: String(m.instances) })),
          el('span', {}, 'cached blocks ', el('b', { class: 'model-blocks', text: n(m.blocks.device) })),
          el('span', {}, 'events/s ', el('b', { class: 'model-rate', text: n(m.events_per_second) })),
          el(
            'span',
            {},
            'lag ',
            el('b', { text: m.lag_seconds === null ? '–' : `${(m.lag_seconds * 1000).toFixed(0)} ms` }),
          ),
          el('span', {}, 'gaps / replays ', el('b', { text: `${m.gaps} / ${m.replays}` })),
          el('span', {}, 'failed events ', el('b', { text: n(m.events_failed) })),
        ),
        spark(samples),
      ),
      el(
        'table',
        {},
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...[
              'instance',
              'dp',
              'listener',
              'GPU blocks',
              'host/disk blocks',
              'share',
              'events',
              'gaps / replays',
              'dropped',
              'lag',
            ].map((h, i) => el('th', { class: [1, 3, 4, 6, 7, 8, 9].includes(i) ? 'num' : '', text: h })),
          ),
        ),
        el('tbody', {}, ...rows),
      ),
      ...(m.sources ?? []).map((src) =>
        el('p', {
          class: 'hint source',
          text: `${src.kind.toUpperCase()} ${src.name}: ${src.state} · ${n(src.events)} events · ${n(src.gaps)} gaps${src.last_error ? ` · ${src.last_error}` : ''}`,
        }),
      ),
    );
    root.append(card);
  }
}

function renderExplorerModels(models) {
  const select = document.getElementById('explorer-model');
  const current = select.value;
  const keys = models.map((m) => `${m.model_name}\u0000${m.routing_group}`);
  if (keys.join() === [...select.options].map((o) => o.value).join()) return;
  select.replaceChildren(
    ...models.map((m) =>
      el('option', {
        value: `${m.model_name}\u0000${m.routing_group}`,
        text: `${m.model_name} · ${m.routing_group}`,
      }),
    ),
  );
  if (keys.includes(current)) select.value = current;
}

function renderRecent(list) {
  recent = list;
  const ol = document.getElementById('recent-queries');
  ol.replaceChildren(
    ...list.map((q, i) =>
      el('li', {
        'data-index': String(i),
        text: `${q.tokens} tokens → worker ${q.best_worker ?? '–'} (${q.best_tokens} cached) · ${q.model_name}`,
      }),
    ),
  );
}

async function runPrefixQuery() {
  const status = document.getElementById('explorer-status');
  const out = document.getElementById('prefix-result');
  const ids = document
    .getElementById('explorer-tokens')
    .value.split(/[\s,[\]]+/)
    .filter((s) => s !== '')
    .map(Number);
  if (ids.some((x) => !Number.isInteger(x) || x < 0 || x > 4294967295)) {
    status.textContent = 'token ids must be integers in [0, 2^32)';
    return;
  }
  const [model, group] = (document.getElementById('explorer-model').value || 'default\u0000default').split(
    '\u0000',
  );
  const started = performance.now();
  const res = await fetch('/query', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model_name: model, routing_group: group, token_ids: ids }),
  });
  const body = parseExact(await res.text());
  status.textContent = `${ids.length} tokens · HTTP ${res.status} in ${(performance.now() - started).toFixed(1)} ms`;
  out.replaceChildren();
  if (!res.ok) {
    out.append(el('p', { class: 'empty', text: body.error ?? `HTTP ${res.status}` }));
    return;
  }
  const entries = Object.entries(body.instances).sort((a, b) => b[1].longest_matched - a[1].longest_matched);
  if (entries.length === 0)
    out.append(el('p', { class: 'empty', text: 'No worker holds any block of this prompt.' }));
  for (const [id, s] of entries) {
    out.append(
      el(
        'div',
        { class: 'prefix-row', 'data-worker': id },
        el('span', { text: `worker ${id}` }),
        tierBar(
          [
            ['disk', s.disk],
            ['cpu', s.cpu],
            ['gpu', s.gpu],
          ],
          Math.max(1, ids.length),
        ),
        el('span', {
          class: 'prefix-tokens',
          text: `${s.longest_matched} of ${ids.length} tokens (${s.gpu} on GPU)`,
        }),
      ),
    );
  }
}

async function poll() {
  try {
    const [models, stats, ready] = await Promise.all([
      getJson('/v1/models'),
      getJson('/v1/stats'),
      getJson('/readyz'),
    ]);
    lastModels = models.body.models;
    renderModels(lastModels);
    renderExplorerModels(lastModels);
    renderRecent(stats.body.recent_queries);
    const q = stats.body.queries;
    document.getElementById('query-rate').textContent = n(q.per_second);
    document.getElementById('query-latency').textContent = `${ms(q.p50_ms)} / ${ms(q.p99_ms)}`;
    document.getElementById('events-rate').textContent = n(
      lastModels.reduce((a, m) => a + m.events_per_second, 0),
    );
    document.getElementById('ingest-queue').textContent = n(stats.body.ingest.queue_events);
    const r = document.getElementById('ready');
    r.textContent = ready.body.ready ? 'yes' : `waiting (${ready.body.waiting.length})`;
    r.style.color = ready.body.ready ? 'var(--ok)' : 'var(--warn)';
  } catch {
    document.getElementById('ready').textContent = 'offline';
  }
}

document.getElementById('explorer-run').addEventListener('click', runPrefixQuery);
document.getElementById('recent-queries').addEventListener('click', (e) => {
  const li = e.target.closest('li');
  if (!li) return;
  const q = recent[Number(li.dataset.index)];
  if (!q) return;
  document.getElementById('explorer-tokens').value = q.token_ids.join(', ');
  const select = document.getElementById('explorer-model');
  select.value = `${q.model_name}\u0000${q.routing_group}`;
  runPrefixQuery();
});

poll();
setInterval(poll, POLL_MS);
