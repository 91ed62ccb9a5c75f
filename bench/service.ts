/**
 * `triplet serve` under load, on loopback: the service runs in a process of its own; autocannon
 * (another process's worth of load from this one) drives it at fixed rates.
 *
 *   npm run build && node build/bench/service.js [--model DIR] [--vectors 100000] [--seconds 60] [--json FILE]
 *
 * 1. Embedding throughput of `/v1/embed` with ORL faces: one request at a time, then 16 at once
 *    (the service batches concurrent images into one model call).
 * 2. `/v1/search` by vector on a gallery of `--vectors` 128-dimensional entries (HNSW): one request
 *    at a time, then p50 / p99 at rising fixed rates for `--seconds` each, errors counted, and as
 *    fast as 256 connections go (past `--max-in-flight`, 503).
 * 3. `/v1/verify` with two ORL faces at a fixed rate.
 * Peak RSS of the service at the end (VmHWM). `--model` defaults to a fresh untrained MLP with a
 * 128-d embedding (inference cost matters here, not quality); the demo's model can be given instead.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { SeededRandom } from '../src/common/random.js';
import { initBackend } from '../src/engine/index.js';
import { openGallery } from '../src/gallery/index.js';
import { createModel, loadModel, saveModel } from '../src/models/index.js';
import { argValue, machine, markdownTable } from './common.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ORL = fileURLToPath(new URL('../../data/orl-faces/', import.meta.url));
const vectors = Number(argValue('--vectors') ?? 100_000);
const seconds = Number(argValue('--seconds') ?? 60);
const work = await mkdtemp(join(tmpdir(), 'tripletjs-service-bench-'));
await initBackend({ announce: () => undefined });

let modelDirectory = argValue('--model');
if (modelDirectory === undefined) {
  modelDirectory = join(work, 'model');
  const config = { kind: 'mlp', hidden: [512], embeddingDim: 128 } as const;
  const preprocessing = { inputShape: [112, 92, 1] as [number, number, number], resizeTo: [56, 46] as [number, number] };
  await saveModel(createModel(config, preprocessing, 1), modelDirectory, {
    config,
    preprocessing,
    embeddingDim: 128,
    verification: { threshold: 0.5, chosenOn: 'validation', criterion: 'balanced-accuracy', validationBalancedAccuracy: 0 },
  });
}
const loaded = await loadModel(modelDirectory);
const dims = loaded.metadata.embeddingDim;

// The gallery: clustered unit vectors, written through the library, its graph saved.
const galleryPath = join(work, 'gallery.db');
const gallery = await openGallery(galleryPath, { fingerprint: loaded.fingerprint, dims });
const random = new SeededRandom(5);
const centres = Array.from({ length: Math.max(1, vectors / 50) }, () => Float32Array.from({ length: dims }, () => random.float() * 2 - 1));
const unit = (v: Float32Array): Float32Array => {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
};
const probe = (): number[] => Array.from(unit(Float32Array.from(centres[random.int(centres.length)]!, (c) => c + 0.35 * (random.float() * 2 - 1))));
let started = performance.now();
for (let start = 0; start < vectors; start += 20_000) {
  const size = Math.min(20_000, vectors - start);
  await gallery.add(Array.from({ length: size }, (_, j) => ({ id: `v${start + j}`, label: `c${(start + j) % 1000}`, embedding: Float32Array.from(probe()) })));
}
await gallery.close();
const loadSeconds = (performance.now() - started) / 1000;

// The service, in its own process.
const server = spawn(process.execPath, [cli, 'serve', '--model', modelDirectory, '--gallery', galleryPath, '--port', '0', '--max-in-flight', '64'], { stdio: ['ignore', 'ignore', 'pipe'] });
started = performance.now();
const url = await new Promise<string>((resolve, reject) => {
  let stderr = '';
  server.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
    if (match) resolve(match[1]!);
  });
  server.once('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
});
const startSeconds = (performance.now() - started) / 1000;

function multipart(fields: Record<string, Buffer>): { body: Buffer; contentType: string } {
  const boundary = '----tripletjsbench';
  const parts = Object.entries(fields).map(([name, bytes]) =>
    Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.pgm"\r\nContent-Type: image/x-portable-graymap\r\n\r\n`), bytes, Buffer.from('\r\n')]),
  );
  return { body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

interface Load {
  readonly name: string;
  readonly rate: number | 'max';
  readonly connections: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly shed: number;
  readonly errors: number;
}

async function load(name: string, path: string, body: Buffer, contentType: string, options: { rate?: number; connections: number; duration: number }): Promise<Load> {
  const result = await autocannon({
    url: `${url}${path}`,
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
    connections: options.connections,
    duration: options.duration,
    ...(options.rate ? { overallRate: options.rate } : {}),
  });
  const status = result.statusCodeStats as unknown as Record<string, { count: number }>;
  return {
    name,
    rate: options.rate ?? 'max',
    connections: options.connections,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: status['200']?.count ?? 0,
    shed: status['503']?.count ?? 0,
    errors: result.errors + result.timeouts + Object.entries(status).filter(([code]) => code !== '200' && code !== '503').reduce((sum, [, s]) => sum + s.count, 0),
  };
}

const face = async (person: number, photo: number): Promise<Buffer> => readFile(join(ORL, `s${person}`, `${photo}.pgm`));
const loads: Load[] = [];
const embedBody = multipart({ image: await face(31, 1) });
loads.push(await load('/v1/embed, one at a time', '/v1/embed', embedBody.body, embedBody.contentType, { connections: 1, duration: Math.min(20, seconds) }));
loads.push(await load('/v1/embed, 16 at once', '/v1/embed', embedBody.body, embedBody.contentType, { connections: 16, duration: Math.min(20, seconds) }));
const searchBody = Buffer.from(JSON.stringify({ embedding: probe() }));
loads.push(await load(`/v1/search by vector, ${vectors.toLocaleString('en-US')} entries, one at a time`, '/v1/search?k=10', searchBody, 'application/json', { connections: 1, duration: Math.min(20, seconds) }));
for (const rate of [250, 500, 1000, 2000]) {
  loads.push(await load(`/v1/search by vector, ${vectors.toLocaleString('en-US')} entries`, '/v1/search?k=10', searchBody, 'application/json', { rate, connections: 32, duration: seconds }));
}
loads.push(await load('/v1/search by vector, as fast as it goes', '/v1/search?k=10', searchBody, 'application/json', { connections: 256, duration: Math.min(20, seconds) }));
const verifyBody = multipart({ a: await face(31, 1), b: await face(31, 2) });
loads.push(await load('/v1/verify', '/v1/verify', verifyBody.body, verifyBody.contentType, { rate: 100, connections: 16, duration: Math.min(30, seconds) }));

const status = await readFile(`/proc/${server.pid}/status`, 'utf8');
const peakMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
await rm(work, { recursive: true, force: true });

const host = machine();
console.log(`${host.cpu}, ${host.cores} cores, node ${host.node}; model ${modelDirectory} (${dims}-d); gallery of ${vectors.toLocaleString('en-US')} entries loaded in ${loadSeconds.toFixed(1)} s, service up in ${startSeconds.toFixed(1)} s\n`);
console.log(
  markdownTable(
    ['load', 'rate /s', 'connections', 'served /s', 'p50 ms', 'p99 ms', '200', '503 (shed)', 'errors'],
    loads.map((l) => [l.name, String(l.rate), String(l.connections), l.requestsPerSecond.toFixed(0), l.p50Ms.toFixed(2), l.p99Ms.toFixed(2), String(l.ok), String(l.shed), String(l.errors)]),
    new Set([1, 2, 3, 4, 5, 6, 7, 8]),
  ),
);
console.log(`\npeak RSS of the service: ${peakMiB.toFixed(0)} MiB`);
const jsonPath = argValue('--json');
if (jsonPath) await writeFile(jsonPath, JSON.stringify({ machine: host, vectors, loadSeconds, startSeconds, loads, peakMiB }, null, 2) + '\n');
