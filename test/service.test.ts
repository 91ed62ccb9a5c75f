import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { createModel, embedFiles, loadModel, saveModel, type LoadedModel } from '../src/models/index.js';
import { openGallery, verifyEmbeddings, type Gallery } from '../src/gallery/index.js';
import { createService } from '../src/server/service.js';
import './helpers/setup.js';

const ORL = fileURLToPath(new URL('../../data/orl-faces/', import.meta.url));
const face = (person: number, photo: number): string => join(ORL, `s${person}`, `${photo}.pgm`);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const config = { kind: 'mlp' as const, hidden: [32], embeddingDim: 16 };
const preprocessing = { inputShape: [112, 92, 1] as [number, number, number], resizeTo: [28, 23] as [number, number], fitting: { fit: 'contain' as const, background: '#000000' } };
const THRESHOLD = 0.7;

let directory: string;
let loaded: LoadedModel;
let gallery: Gallery & { flush(): Promise<void> };
let app: FastifyInstance;
let base: string;
const API_KEY = 'test-key-123';

async function form(fields: Record<string, string | string[]>): Promise<FormData> {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    for (const path of Array.isArray(value) ? value : [value]) {
      if (path.startsWith('text:')) body.append(name, path.slice(5));
      else body.append(name, new Blob([await readFile(path)]), path.split('/').slice(-2).join('_'));
    }
  }
  return body;
}

async function call(method: string, path: string, init: { body?: BodyInit; json?: unknown; key?: boolean } = {}) {
  const headers: Record<string, string> = {};
  if (init.key) headers['x-api-key'] = API_KEY;
  let body = init.body;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const response = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}

before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tripletjs-service-'));
  await saveModel(createModel(config, preprocessing, 3), join(directory, 'model'), {
    config,
    preprocessing,
    embeddingDim: 16,
    verification: { threshold: THRESHOLD, chosenOn: 'validation', criterion: 'balanced-accuracy', validationBalancedAccuracy: 0.9 },
  });
  loaded = await loadModel(join(directory, 'model'));
  gallery = await openGallery(join(directory, 'gallery.db'), { fingerprint: loaded.fingerprint, dims: 16 });
  app = await createService({ model: loaded, gallery, apiKey: API_KEY, maxImageBytes: 64 * 1024, maxInFlight: 4, batch: { maxWaitMs: 30 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

after(async () => {
  await app.close();
  await gallery.close();
  await rm(directory, { recursive: true, force: true });
});

describe('the service against its HTTP contract', () => {
  it('GET /healthz, /openapi.json (every route), /v1/model', async () => {
    const health = await call('GET', '/healthz');
    assert.deepEqual(health.json, { status: 'ok', model: loaded.fingerprint, entries: 0 });
    const openapi = await call('GET', '/openapi.json');
    assert.equal(openapi.json.openapi, '3.0.3');
    for (const path of ['/v1/embed', '/v1/verify', '/v1/identify', '/v1/search', '/v1/gallery', '/v1/gallery/{id}', '/v1/gallery/{id}/thumbnail', '/v1/gallery/items', '/v1/gallery/map', '/v1/model', '/healthz', '/metrics']) {
      assert.ok(openapi.json.paths[path], `OpenAPI documents ${path}`);
    }
    const model = await call('GET', '/v1/model');
    assert.equal(model.json.fingerprint, loaded.fingerprint);
    assert.equal(model.json.verification.threshold, THRESHOLD);
  });

  it('POST /v1/embed and /v1/verify give what the library gives', async () => {
    const [a, b] = [face(31, 1), face(32, 1)];
    const expected = await embedFiles(loaded.model, loaded.metadata, [a, b]);
    const embedded = await call('POST', '/v1/embed', { body: await form({ image: a }) });
    assert.equal(embedded.status, 200);
    assert.equal(embedded.json.model, loaded.fingerprint);
    assert.deepEqual(embedded.json.embedding, Array.from(expected.subarray(0, 16)));
    const verified = await call('POST', '/v1/verify', { body: await form({ a, b }) });
    assert.equal(verified.status, 200);
    assert.deepEqual(verified.json, verifyEmbeddings(expected.subarray(0, 16), expected.subarray(16), THRESHOLD));
  });

  it('a photo of another size and shape, turned by its EXIF orientation, is brought to the input as the library brings it', async () => {
    const [width, height] = [600, 400];
    const pixels = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.set([(x * 255) / width, (y * 255) / height, x < 100 ? 255 : 30], 3 * (y * width + x));
    const photo = join(directory, 'turned.jpg');
    await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).withMetadata({ orientation: 6 }).toFile(photo);
    const expected = await embedFiles(loaded.model, loaded.metadata, [photo]);
    const embedded = await call('POST', '/v1/embed', { body: await form({ image: photo }) });
    assert.equal(embedded.status, 200, embedded.text);
    assert.deepEqual(embedded.json.embedding, Array.from(expected));
    // Not the same as ignoring the orientation, or stretching: the fit and the turn both matter.
    const upright = join(directory, 'upright.jpg');
    await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toFile(upright);
    const ignored = await embedFiles(loaded.model, loaded.metadata, [upright]);
    assert.ok(Math.hypot(...expected.map((v, i) => v - ignored[i]!)) > 1e-3);
  });

  it('enroll (multipart and JSON), list, get, thumbnail, search, identify, remove', async () => {
    const enrolled = await call('POST', '/v1/gallery', { body: await form({ label: 'text:s31', image: [face(31, 1), face(31, 2), face(31, 3)] }), key: true });
    assert.equal(enrolled.status, 201, enrolled.text);
    assert.equal(enrolled.json.ids.length, 3);
    const vector = Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : 0));
    const added = await call('POST', '/v1/gallery', { json: { items: [{ id: 'vector-1', label: 'axis', embedding: vector, metadata: { note: 'by hand' } }] }, key: true });
    assert.equal(added.status, 201, added.text);
    assert.deepEqual(added.json, { ids: ['vector-1'] });
    assert.deepEqual((await call('GET', '/v1/gallery')).json, { count: 4, labels: [{ label: 'axis', count: 1 }, { label: 's31', count: 3 }] });
    const items = await call('GET', '/v1/gallery/items?label=s31');
    assert.deepEqual(items.json.items.map((i: { id: string }) => i.id), enrolled.json.ids);
    const one = await call('GET', `/v1/gallery/${enrolled.json.ids[0]}`);
    assert.deepEqual([one.json.label, one.json.thumbnail, one.json.metadata.source], ['s31', true, 's31_1.pgm']);
    const thumbnail = await fetch(`${base}/v1/gallery/${enrolled.json.ids[0]}/thumbnail`);
    assert.equal(thumbnail.headers.get('content-type'), 'image/png');
    assert.deepEqual([...new Uint8Array(await thumbnail.arrayBuffer()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);

    const byVector = await call('POST', '/v1/search?k=2', { json: { embedding: vector } });
    assert.equal(byVector.json.results[0].id, 'vector-1');
    assert.ok(byVector.json.results[0].distance < 1e-3);
    assert.equal(byVector.json.results.length, 2);
    const restricted = await call('POST', '/v1/search?k=5', { json: { embedding: vector, labels: ['s31'] } });
    assert.deepEqual(restricted.json.results.map((r: { label: string }) => r.label), ['s31', 's31', 's31']);
    const byImage = await call('POST', '/v1/search?k=1', { body: await form({ image: face(31, 2) }) });
    assert.deepEqual([byImage.json.results[0].id, byImage.json.results[0].distance < 1e-3], [enrolled.json.ids[1], true]);
    const known = await call('POST', '/v1/identify', { body: await form({ image: face(31, 3) }) });
    assert.deepEqual([known.json.label, known.json.threshold], ['s31', THRESHOLD]);

    assert.equal((await call('DELETE', '/v1/gallery/vector-1', { key: true })).status, 204);
    const again = await call('DELETE', '/v1/gallery/vector-1', { key: true });
    assert.deepEqual([again.status, again.json.error.code], [404, 'not_found']);
    assert.equal((await call('GET', '/v1/gallery')).json.count, 3);
  });

  it('bad input is a 4xx { error: { code, message } } and changes nothing', async () => {
    const before = (await call('GET', '/v1/gallery')).json.count;
    const text = join(directory, 'not-an-image.png');
    await (await import('node:fs/promises')).writeFile(text, 'hello, I am text');
    const png = join(directory, 'truncated.png');
    const { PNG } = await import('pngjs');
    const full = PNG.sync.write(Object.assign(new PNG({ width: 40, height: 40 }), { data: Buffer.alloc(40 * 40 * 4, 200) }));
    await (await import('node:fs/promises')).writeFile(png, full.subarray(0, full.length - 30));
    const big = join(directory, 'big.pgm');
    await (await import('node:fs/promises')).writeFile(big, Buffer.concat([Buffer.from('P5 400 400 255\n'), Buffer.alloc(400 * 400, 7)]));
    const vector = Array.from({ length: 16 }, () => 0.25);
    const cases: Array<[string, () => Promise<{ status: number; json: any }>, number, string]> = [
      ['a file that is not an image', async () => call('POST', '/v1/embed', { body: await form({ image: text }) }), 400, 'invalid_image'],
      ['a truncated PNG', async () => call('POST', '/v1/verify', { body: await form({ a: png, b: face(1, 1) }) }), 400, 'invalid_image'],
      ['an image over the size limit', async () => call('POST', '/v1/embed', { body: await form({ image: big }) }), 413, 'payload_too_large'],
      ['a missing field', async () => call('POST', '/v1/verify', { body: await form({ a: face(1, 1) }) }), 400, 'invalid_request'],
      ['two images where one is expected', async () => call('POST', '/v1/embed', { body: await form({ image: [face(1, 1), face(1, 2)] }) }), 400, 'invalid_request'],
      ['an enrollment without a label', async () => call('POST', '/v1/gallery', { body: await form({ image: face(1, 1) }), key: true }), 400, 'invalid_request'],
      ['an enrollment with a bad image among good ones', async () => call('POST', '/v1/gallery', { body: await form({ label: 'text:x', image: [face(1, 1), text] }), key: true }), 400, 'invalid_image'],
      ['a vector of the wrong length', async () => call('POST', '/v1/gallery', { json: { items: [{ label: 'x', embedding: [1, 2, 3] }] }, key: true }), 400, 'invalid_request'],
      ['a vector with a null (NaN has no JSON)', async () => call('POST', '/v1/search', { json: { embedding: [...vector.slice(1), null] } }), 400, 'invalid_request'],
      ['an unknown property', async () => call('POST', '/v1/search', { json: { embedding: vector, distance: 'cosine' } }), 400, 'invalid_request'],
      ['a bad k', async () => call('POST', '/v1/search?k=ten', { json: { embedding: vector } }), 400, 'invalid_request'],
      ['k out of range', async () => call('POST', '/v1/search?k=5000', { json: { embedding: vector } }), 400, 'invalid_request'],
      ['invalid JSON', async () => fetch(`${base}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"embedding": [1,' }).then(async (r) => ({ status: r.status, json: await r.json() })), 400, 'invalid_json'],
      ['a JSON body where images are expected', async () => call('POST', '/v1/embed', { json: { image: 'x' } }), 415, 'unsupported_media_type'],
      ['an unknown id', async () => call('GET', '/v1/gallery/nobody'), 404, 'not_found'],
      ['an unknown route', async () => call('GET', '/v2/anything'), 404, 'not_found'],
      ['a write without the API key', async () => call('POST', '/v1/gallery', { json: { items: [{ label: 'x', embedding: vector }] } }), 401, 'unauthorized'],
      ['a delete with a wrong API key', async () => fetch(`${base}/v1/gallery/x`, { method: 'DELETE', headers: { 'x-api-key': 'wrong-key-123' } }).then(async (r) => ({ status: r.status, json: await r.json() })), 401, 'unauthorized'],
    ];
    for (const [name, run, status, code] of cases) {
      const response = await run();
      assert.equal(response.status, status, `${name}: ${JSON.stringify(response.json)}`);
      assert.equal(response.json?.error?.code, code, name);
      assert.equal(typeof response.json.error.message, 'string', name);
    }
    assert.equal((await call('GET', '/v1/gallery')).json.count, before, 'nothing was added');
    assert.equal((await call('GET', '/healthz')).status, 200, 'still serving');
  });

  it('past maxInFlight requests in progress, new ones get 503 at once; concurrent images are embedded together', async () => {
    // Four uploads held open (their bodies unfinished) fill the service.
    const { port } = app.server.address() as AddressInfo;
    const held = Array.from({ length: 4 }, () => {
      const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/embed', headers: { 'content-type': 'multipart/form-data; boundary=x' } });
      request.on('error', () => undefined);
      request.write('--x\r\nContent-Disposition: form-data; name="image"; filename="a.pgm"\r\n\r\nP5');
      return request;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const shed = await call('POST', '/v1/search', { json: { embedding: Array.from({ length: 16 }, () => 0.25) } });
    assert.equal(shed.status, 503);
    assert.equal(shed.json.error.code, 'overloaded');
    assert.equal(shed.headers.get('retry-after'), '1');
    for (const request of held) request.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await call('POST', '/v1/search', { json: { embedding: Array.from({ length: 16 }, () => 0.25) } })).status, 200, 'serving again');

    const before = await batchCount();
    const bodies = await Promise.all([1, 2, 3, 4].map((i) => form({ image: face(35, i) })));
    const results = await Promise.all(bodies.map((body) => call('POST', '/v1/embed', { body })));
    assert.ok(results.every((r) => r.status === 200));
    assert.ok((await batchCount()) - before < 4, 'four concurrent images took fewer than four model calls');
  });

  it('GET /metrics: requests, latencies, shed requests, gallery size in the Prometheus text format', async () => {
    const metrics = await call('GET', '/metrics');
    assert.match(metrics.headers.get('content-type')!, /^text\/plain/);
    assert.match(metrics.text, /tripletjs_http_requests_total\{route="\/v1\/embed",method="POST",status="200"\} \d+/);
    assert.match(metrics.text, /tripletjs_http_request_duration_seconds_bucket\{le="0\.005",route="\/v1\/verify"\}/);
    assert.match(metrics.text, /tripletjs_http_shed_total [1-9]/);
    assert.match(metrics.text, new RegExp(`tripletjs_gallery_entries ${await gallery.count()}`));
  });
});

async function batchCount(): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/tripletjs_inference_batch_size_count (\d+)/.exec(text)?.[1] ?? 0);
}

describe('triplet serve', () => {
  it('enrolls the test people, answers, and an acknowledged add survives kill -9', async () => {
    const out = join(directory, 'served.db');
    const serve = (): ChildProcess => spawn(process.execPath, [cli, 'serve', '--model', join(directory, 'model'), '--gallery', out, '--port', '0', '--enroll', 'orl-faces'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const addressOf = (child: ChildProcess): Promise<string> =>
      new Promise((resolve, reject) => {
        let stderr = '';
        child.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
      });
    const first = serve();
    const url = await addressOf(first);
    // The model was saved without a dataset: --enroll orl-faces takes its default split's test people, s31–s40.
    const listed = (await (await fetch(`${url}/v1/gallery`)).json()) as { count: number; labels: Array<{ label: string }> };
    assert.equal(listed.count, 100);
    assert.deepEqual(listed.labels.map((l) => l.label), Array.from({ length: 10 }, (_, i) => `s${31 + i}`));
    const body = new FormData();
    body.append('label', 'newcomer');
    body.append('image', new Blob([await readFile(face(2, 1))]), 'newcomer.pgm');
    const added = await fetch(`${url}/v1/gallery`, { method: 'POST', body });
    assert.equal(added.status, 201);
    const { ids } = (await added.json()) as { ids: string[] };
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const second = serve();
    const again = await addressOf(second);
    const entry = await fetch(`${again}/v1/gallery/${ids[0]}`);
    assert.equal(entry.status, 200, 'the acknowledged entry is there after kill -9');
    assert.equal(((await entry.json()) as { label: string }).label, 'newcomer');
    assert.equal(((await (await fetch(`${again}/v1/gallery`)).json()) as { count: number }).count, 101, 'and the enrollment was not repeated');
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));
  });
});
