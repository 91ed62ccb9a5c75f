// The tripletjs service's page: plain DOM and SVG over the service's JSON API.
const $ = (selector) => document.querySelector(selector);
const svgNS = 'http://www.w3.org/2000/svg';
let model = null;

/** Calls the API; a non-2xx answer throws its error message. */
async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  return body;
}

function writeHeaders() {
  const key = $('#api-key').value;
  return key ? { 'x-api-key': key } : {};
}

function show(element, text, kind = '') {
  element.textContent = text;
  element.className = `result ${kind}`;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(svgNS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

/** Tableau's ten categorical colours, then the same hues lighter: neighbouring labels stay apart. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
function colourOf(label, labels) {
  const i = Math.max(0, labels.indexOf(label));
  return i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137.5) % 360}, 55%, ${i % 2 ? 40 : 60}%)`;
}

/**
 * A URL the page can show for an image file: the file itself, or for PGM (which browsers do not
 * draw, and the ORL faces are) a PNG drawn from its pixels.
 */
async function previewUrl(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (bytes[0] !== 0x50 || bytes[1] !== 0x35) return URL.createObjectURL(file);
  const header = new TextDecoder().decode(bytes.subarray(0, 64)).replace(/#[^\n]*\n/g, ' ');
  const [, width, height, max] = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(header) ?? [];
  if (!width) return URL.createObjectURL(file);
  const offset = bytes.length - width * height;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  const image = context.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const v = Math.round((bytes[offset + i] * 255) / max);
    image.data.set([v, v, v, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
  return canvas.toDataURL('image/png');
}

// Tabs.
for (const button of document.querySelectorAll('nav button')) {
  button.addEventListener('click', () => {
    for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b === button);
    for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.id === button.dataset.tab);
    if (button.dataset.tab === 'map') drawMap();
    if (button.dataset.tab === 'enroll') listGallery();
  });
}

/** A drop zone around a file input: picking or dropping fills the input and previews the first image. */
function dropZone(zone, onChange) {
  const input = zone.querySelector('input');
  const preview = zone.querySelector('img');
  const changed = async () => {
    if (preview && input.files[0]) {
      preview.src = await previewUrl(input.files[0]);
      zone.classList.add('filled');
    }
    zone.querySelector('span').textContent = input.files.length > 1 ? `${input.files.length} photos` : input.files[0]?.name ?? zone.querySelector('span').textContent;
    onChange();
  };
  input.addEventListener('change', changed);
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    input.files = event.dataTransfer.files;
    changed();
  });
}

// Verify.
const verifyReady = () => ($('#verify-run').disabled = !($('#verify-a').files[0] && $('#verify-b').files[0]));
dropZone($('#drop-a'), verifyReady);
dropZone($('#drop-b'), verifyReady);
$('#verify-run').addEventListener('click', async () => {
  const form = new FormData();
  form.append('a', $('#verify-a').files[0]);
  form.append('b', $('#verify-b').files[0]);
  const out = $('#verify-result');
  show(out, 'Comparing…');
  try {
    const { distance, threshold, same } = await api('/v1/verify', { method: 'POST', body: form });
    out.replaceChildren(
      el('p', { class: same ? 'verdict same' : 'verdict different' }, same ? 'Same person' : 'Different people'),
      el('p', {}, `Distance ${distance.toFixed(3)}; the model says "same" up to ${threshold.toFixed(3)}.`),
      scale(distance, threshold),
    );
    out.className = 'result';
  } catch (error) {
    show(out, error.message, 'error');
  }
});

/** Where a distance falls against the threshold, on the 0–2 range of unit embeddings. */
function scale(distance, threshold) {
  const width = 420;
  const x = (d) => 10 + (Math.min(d, 2) / 2) * (width - 20);
  return svg(
    'svg',
    { width, height: 46, class: 'scale', role: 'img', 'aria-label': `distance ${distance.toFixed(3)} against threshold ${threshold.toFixed(3)}` },
    svg('rect', { x: 10, y: 14, width: x(threshold) - 10, height: 10, fill: '#cde8d2' }),
    svg('rect', { x: x(threshold), y: 14, width: width - 10 - x(threshold), height: 10, fill: '#f3d0d0' }),
    svg('line', { x1: x(threshold), x2: x(threshold), y1: 8, y2: 30, stroke: '#333', 'stroke-dasharray': '3 2' }),
    svg('circle', { cx: x(distance), cy: 19, r: 6, fill: '#1d3557' }),
    svg('text', { x: 10, y: 42, 'font-size': 11 }, '0 (identical)'),
    svg('text', { x: x(threshold) - 30, y: 42, 'font-size': 11 }, 'threshold'),
    svg('text', { x: width - 70, y: 42, 'font-size': 11 }, '2 (opposite)'),
  );
}

// Search.
dropZone($('#drop-search'), () => ($('#search-run').disabled = !$('#search-file').files[0]));
$('#search-run').addEventListener('click', async () => {
  const file = $('#search-file').files[0];
  const k = Math.max(1, Math.min(50, Number($('#search-k').value) || 8));
  const grid = $('#search-results');
  grid.replaceChildren();
  show($('#search-identity'), 'Searching…');
  try {
    const form = new FormData();
    form.append('image', file);
    const { results } = await api(`/v1/search?k=${k}`, { method: 'POST', body: form });
    const again = new FormData();
    again.append('image', file);
    const who = await api('/v1/identify', { method: 'POST', body: again });
    show($('#search-identity'), who.label === null ? (who.distance === null ? 'The gallery is empty.' : `Unknown: nobody in the gallery is within the threshold (nearest at ${who.distance.toFixed(3)}).`) : `Identified as ${who.label} (distance ${who.distance.toFixed(3)}).`, who.label === null ? '' : 'good');
    grid.replaceChildren(...results.map((hit) => card(hit, `${hit.distance.toFixed(3)}`)));
  } catch (error) {
    show($('#search-identity'), error.message, 'error');
  }
});

function card(item, caption, onRemove) {
  const figure = el('figure', { class: 'card' }, el('img', { src: `/v1/gallery/${encodeURIComponent(item.id)}/thumbnail`, alt: item.label, loading: 'lazy' }), el('figcaption', {}, el('strong', {}, item.label), ` ${caption}`));
  figure.querySelector('img').addEventListener('error', (event) => event.target.replaceWith(el('div', { class: 'no-thumb' }, 'no photo')));
  if (onRemove) {
    const button = el('button', { class: 'remove', title: `Remove ${item.id}` }, 'Remove');
    button.addEventListener('click', () => onRemove(item));
    figure.append(button);
  }
  return figure;
}

// Enroll.
const enrollReady = () => ($('#enroll-run').disabled = !($('#enroll-files').files.length > 0 && $('#enroll-label').value.trim()));
dropZone($('#drop-enroll'), enrollReady);
$('#enroll-label').addEventListener('input', enrollReady);
$('#enroll-run').addEventListener('click', async () => {
  const form = new FormData();
  const label = $('#enroll-label').value.trim();
  form.append('label', label);
  for (const file of $('#enroll-files').files) form.append('image', file);
  show($('#enroll-result'), 'Enrolling…');
  try {
    const { ids } = await api('/v1/gallery', { method: 'POST', body: form, headers: writeHeaders() });
    show($('#enroll-result'), `Enrolled ${ids.length} photo${ids.length === 1 ? '' : 's'} of ${label}.`, 'good');
    await listGallery(label);
    await refreshSummary();
  } catch (error) {
    show($('#enroll-result'), error.message, 'error');
  }
});
$('#gallery-label').addEventListener('change', () => showLabel($('#gallery-label').value));

async function listGallery(select) {
  const { count, labels } = await api('/v1/gallery');
  $('#gallery-count').textContent = `${count} photos of ${labels.length} people.`;
  const chooser = $('#gallery-label');
  const current = select ?? chooser.value;
  chooser.replaceChildren(...labels.map(({ label, count: n }) => el('option', { value: label }, `${label} (${n})`)));
  if (labels.length === 0) return $('#gallery-items').replaceChildren();
  chooser.value = labels.some((l) => l.label === current) ? current : labels[0].label;
  await showLabel(chooser.value);
}

async function showLabel(label) {
  const { items } = await api(`/v1/gallery/items?label=${encodeURIComponent(label)}&limit=200`);
  $('#gallery-items').replaceChildren(...items.map((item) => card(item, '', removeItem)));
}

async function removeItem(item) {
  if (!confirm(`Remove this photo of ${item.label} from the gallery?`)) return;
  try {
    await api(`/v1/gallery/${encodeURIComponent(item.id)}`, { method: 'DELETE', headers: writeHeaders() });
    show($('#enroll-result'), `Removed a photo of ${item.label}.`, 'good');
    await listGallery(item.label);
    await refreshSummary();
  } catch (error) {
    show($('#enroll-result'), error.message, 'error');
  }
}

// Map.
async function drawMap() {
  const holder = $('#map-plot');
  holder.textContent = 'Drawing…';
  const { points, explained, total } = await api('/v1/gallery/map');
  if (points.length === 0) return (holder.textContent = 'The gallery is empty.');
  const width = 640;
  const height = 480;
  const pad = 30;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * pad);
  const sy = (y) => height - pad - ((y - y0) / (y1 - y0 || 1)) * (height - 2 * pad);
  const plot = svg('svg', { width, height, class: 'map', role: 'img', 'aria-label': `map of ${points.length} gallery photos` }, svg('rect', { x: 0, y: 0, width, height, fill: 'white', stroke: '#ccc' }));
  const labels = [...new Set(points.map((p) => p.label))].sort();
  for (const p of points) {
    plot.append(svg('circle', { cx: sx(p.x), cy: sy(p.y), r: 4, fill: colourOf(p.label, labels), 'fill-opacity': 0.85 }, svg('title', {}, `${p.label} (${p.id})`)));
  }
  const legend = el('div', { class: 'legend' }, ...labels.map((label) => el('span', {}, el('i', { style: `background:${colourOf(label, labels)}` }), label)));
  const note = el('p', { class: 'note' }, `${points.length} of ${total} photos; the axes carry ${(100 * explained[0]).toFixed(0)}% and ${(100 * explained[1]).toFixed(0)}% of the variance.`);
  holder.replaceChildren(plot, legend, note);
}

// Model card.
function chart({ title, width = 300, height = 220, xLabel, yLabel, series, marker }) {
  const pad = 36;
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(...all.map((p) => p[0])) || 1;
  const yMax = Math.max(...all.map((p) => p[1])) || 1;
  const sx = (x) => pad + (x / xMax) * (width - pad - 10);
  const sy = (y) => height - pad + 6 - (y / yMax) * (height - pad - 16);
  const root = svg('svg', { width, height, class: 'chart', role: 'img', 'aria-label': title });
  root.append(svg('line', { x1: pad, x2: width - 10, y1: sy(0), y2: sy(0), stroke: '#999' }), svg('line', { x1: pad, x2: pad, y1: 10, y2: sy(0), stroke: '#999' }));
  root.append(svg('text', { x: width / 2, y: height - 4, 'text-anchor': 'middle', 'font-size': 11 }, xLabel), svg('text', { x: 12, y: height / 2, transform: `rotate(-90 12 ${height / 2})`, 'text-anchor': 'middle', 'font-size': 11 }, yLabel));
  root.append(svg('text', { x: pad - 4, y: sy(0) + 4, 'text-anchor': 'end', 'font-size': 10 }, '0'), svg('text', { x: width - 10, y: sy(0) + 14, 'text-anchor': 'end', 'font-size': 10 }, xMax.toFixed(2)));
  for (const s of series) root.append(svg('polyline', { points: s.points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' '), fill: 'none', stroke: s.colour, 'stroke-width': 2 }));
  if (marker !== undefined) root.append(svg('line', { x1: sx(marker), x2: sx(marker), y1: 10, y2: sy(0), stroke: '#333', 'stroke-dasharray': '4 3' }), svg('text', { x: sx(marker) + 3, y: 20, 'font-size': 10 }, 'threshold'));
  return el('figure', { class: 'chart-box' }, el('figcaption', {}, title), root, el('div', { class: 'legend' }, ...series.map((s) => el('span', {}, el('i', { style: `background:${s.colour}` }), s.name))));
}

function metricRows(test, validation) {
  const rows = [
    ['MAP@R', 'mapAtR'], ['P@1', 'precisionAt1'], ['R-precision', 'rPrecision'], ['NMI', 'nmi'], ['ROC AUC', 'rocAuc'], ['EER', 'eer'],
    ['TAR @ FAR 1e-2', 'tarAtFar1e2'], ['accuracy at the threshold', 'accuracyAtThreshold'], ['FAR at the threshold', 'farAtThreshold'], ['FRR at the threshold', 'frrAtThreshold'],
  ];
  const fmt = (v) => (typeof v === 'number' ? v.toFixed(4) : '–');
  return el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'metric'), el('th', {}, 'validation'), el('th', {}, 'test (once)'))), el('tbody', {}, ...rows.map(([name, key]) => el('tr', {}, el('td', {}, name), el('td', {}, fmt(validation?.[key])), el('td', {}, fmt(test?.[key]))))));
}

function describeModel(config) {
  if (config.kind === 'ensemble') return `ensemble of ${config.members.map((m) => describeModel(m.network) + (m.resizeTo ? ` on ${m.resizeTo.join('×')}` : '')).join(' + ')}`;
  if (config.kind === 'mlp') return `MLP ${[...(config.hidden ?? [256, 128]), config.embeddingDim ?? 64].join('→')}`;
  if (config.kind === 'cnn') return `CNN ${(config.filters ?? [32, 64, 128]).join('-')} (${config.pooling ?? 'average'}) → ${config.embeddingDim ?? 64}`;
  return config.kind;
}

async function showModel() {
  model = await api('/v1/model');
  const card = $('#model-card');
  const t = model.training ?? {};
  const test = model.metrics?.test;
  const validation = model.metrics?.validation;
  const settings = el('dl', {},
    ...[
      ['Network', describeModel(model.config)],
      ['Input', `${model.preprocessing.inputShape.join(' × ')}${model.preprocessing.resizeTo ? `, resized to ${model.preprocessing.resizeTo.join(' × ')}` : ''}`],
      ['Embedding', `${model.embeddingDim} dimensions, unit length`],
      ['Dataset', model.dataset ? `${model.dataset.name}: ${model.dataset.split}` : 'unknown'],
      ['Training', `${t.loss ?? '?'} loss, ${t.miner ?? '?'} miner, margin ${t.margin ?? '?'}, ${t.epochs ?? '?'} epochs of P × K = ${t.p ?? '?'} × ${t.k ?? '?'}, ${t.optimizer ?? '?'} at ${t.learningRate ?? '?'} (${t.schedule ?? '?'}), seed ${t.seed ?? '?'}`],
      ['Epoch kept', model.metrics?.keptEpoch ? `${model.metrics.keptEpoch} (best validation MAP@R)` : '–'],
      ['Threshold', model.verification ? `${model.verification.threshold.toFixed(4)}, chosen on validation pairs (best balanced accuracy ${model.verification.validationBalancedAccuracy.toFixed(4)})` : 'none'],
      ['Fingerprint', model.fingerprint],
    ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
  );
  const parts = [settings, el('h3', {}, 'Metrics'), metricRows(test, validation)];
  const curves = test?.curves;
  if (curves) {
    const roc = chart({ title: 'ROC on the test pairs', xLabel: 'false accept rate', yLabel: 'true accept rate', series: [{ name: 'learned', colour: '#1d3557', points: curves.roc.far.map((f, i) => [f, curves.roc.tar[i]]) }] });
    const centres = curves.histogram.edges.slice(0, -1).map((e, i) => (e + curves.histogram.edges[i + 1]) / 2);
    const total = (list) => list.reduce((a, b) => a + b, 0) || 1;
    const histogram = chart({
      title: 'Distances of test pairs (share of each kind)',
      xLabel: 'distance',
      yLabel: 'share of pairs',
      series: [
        { name: 'same person', colour: '#2a9d8f', points: centres.map((c, i) => [c, curves.histogram.positive[i] / total(curves.histogram.positive)]) },
        { name: 'different people', colour: '#e76f51', points: centres.map((c, i) => [c, curves.histogram.negative[i] / total(curves.histogram.negative)]) },
      ],
      marker: model.verification?.threshold,
    });
    parts.push(el('div', { class: 'charts' }, roc, histogram));
  }
  card.replaceChildren(...parts);
}

async function refreshSummary() {
  const { count, labels } = await api('/v1/gallery');
  $('#summary').textContent = `${describeModel(model.config)} · gallery of ${count} photos of ${labels.length} people`;
}

await showModel();
await refreshSummary();
