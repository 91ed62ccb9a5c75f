/**
 * Nearest-neighbour search for galleries, against peers measured in the same run: for each size
 * and dimension, the exact scan on BLAS (tripletjs's ExactIndex), the gallery's HNSW index (its
 * wrapper of hnswlib-node), hnswlib-node and usearch called directly with the same settings,
 * LanceDB (flat below 100k rows, IVF-HNSW-SQ from 100k), numpy's exact scan, and the whole SQLite
 * gallery (graph + store). Each method runs in a process of its own
 * (so that its peak RSS is its own) on the same vectors and queries, and is scored against the
 * exact top 10: p50 / p99 latency of one query at a time, build time, recall@10.
 *
 *   npm run build && node build/bench/search.js [--sizes 10000,100000,1000000] [--dims 64,128] [--queries 1000] [--methods …] [--json FILE]
 *
 * The vectors: unit vectors around n / 50 seeded centres (embeddings of classes); the queries:
 * stored vectors moved a little and normalised again, as a new photo of an enrolled person is.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../src/common/random.js';
import { initBackend } from '../src/engine/index.js';
import { decodeNpy, encodeNpy } from '../src/gallery/npy.js';
import { ExactIndex } from '../src/gallery/exact-index.js';
import { HNSW_SETTINGS, HnswIndex } from '../src/gallery/hnsw-index.js';
import { SqliteGallery } from '../src/gallery/sqlite-gallery.js';
import { LanceGallery } from '../src/gallery/lance-gallery.js';
import { argValue, machine, markdownTable, peakRssMiB } from './common.js';

const K = 10;
const METHODS = ['exact', 'index', 'hnswlib', 'usearch', 'lancedb', 'numpy', 'gallery'] as const;
type Method = (typeof METHODS)[number];

interface Result {
  readonly method: Method;
  readonly n: number;
  readonly dims: number;
  readonly buildSeconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly recallAt10: number;
  readonly peakRssMiB: number;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Seeded clustered unit vectors and near-data queries. */
function generate(n: number, dims: number, queries: number): { data: Float32Array; queries: Float32Array } {
  const random = new SeededRandom(n * 7 + dims);
  const centres = Math.max(1, Math.round(n / 50));
  const centre = new Float32Array(centres * dims);
  for (let i = 0; i < centre.length; i++) centre[i] = random.float() * 2 - 1;
  const data = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) moveAndNormalise(centre, random.int(centres), data, i, 0.35, dims, random);
  const out = new Float32Array(queries * dims);
  for (let q = 0; q < queries; q++) moveAndNormalise(data, random.int(n), out, q, 0.05, dims, random);
  return { data, queries: out };
}

/** Row `to` of `target` = row `from` of `source` moved by uniform noise of ± `spread` per value, then normalised. */
function moveAndNormalise(source: Float32Array, from: number, target: Float32Array, to: number, spread: number, dims: number, random: SeededRandom): void {
  let norm = 0;
  for (let d = 0; d < dims; d++) {
    const v = source[from * dims + d]! + spread * (random.float() * 2 - 1);
    target[to * dims + d] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  for (let d = 0; d < dims; d++) target[to * dims + d]! /= norm;
}

async function readMatrix(path: string): Promise<{ values: Float32Array; rows: number; cols: number }> {
  return decodeNpy(await readFile(path), path);
}

/** Times one query at a time; returns latencies (ms) and the keys found. */
async function timeQueries(queries: Float32Array, dims: number, search: (q: Float32Array) => number[] | Promise<number[]>): Promise<{ latencies: number[]; found: number[][] }> {
  const count = queries.length / dims;
  // A few untimed queries first: first-call costs are not search costs.
  for (let q = 0; q < Math.min(20, count); q++) await search(queries.subarray(q * dims, (q + 1) * dims));
  const latencies: number[] = [];
  const found: number[][] = [];
  for (let q = 0; q < count; q++) {
    const query = queries.subarray(q * dims, (q + 1) * dims);
    const started = performance.now();
    const keys = await search(query);
    latencies.push(performance.now() - started);
    found.push(keys);
  }
  return { latencies, found };
}

function recall(found: number[][], truth: Int32Array): number {
  let hits = 0;
  found.forEach((keys, q) => {
    const exact = new Set(truth.subarray(q * K, (q + 1) * K));
    hits += keys.slice(0, K).filter((key) => exact.has(key)).length;
  });
  return hits / (found.length * K);
}

/** One method in this process (a child of the driver). */
async function runMethod(method: Method, dataPath: string, queryPath: string, truthPath: string, work: string): Promise<Omit<Result, 'n' | 'dims' | 'method'>> {
  const { values: data, rows: n, cols: dims } = await readMatrix(dataPath);
  const { values: queries } = await readMatrix(queryPath);
  const truth = method === 'exact' ? undefined : new Int32Array((await readFile(truthPath)).buffer.slice(0));
  const keys = Array.from({ length: n }, (_, i) => i);
  const build = performance.now();
  let search: (q: Float32Array) => number[] | Promise<number[]>;
  let close = async (): Promise<void> => {};
  switch (method) {
    case 'exact': {
      await initBackend({ announce: () => undefined });
      const index = new ExactIndex(dims, n);
      for (let i = 0; i < n; i++) index.add(i, data.subarray(i * dims, (i + 1) * dims));
      search = (q) => index.search(q, K).keys;
      break;
    }
    case 'index': {
      const index = HnswIndex.create(dims, n);
      index.add(keys, data);
      search = (q) => index.search(q, K).keys;
      break;
    }
    case 'usearch': {
      const { Index, MetricKind } = await import('usearch');
      const index = new Index({ dimensions: dims, metric: MetricKind.L2sq, connectivity: HNSW_SETTINGS.connectivity, expansion_add: HNSW_SETTINGS.expansionAdd, expansion_search: HNSW_SETTINGS.expansionSearch, multi: false } as ConstructorParameters<typeof Index>[0]);
      index.add(BigUint64Array.from(keys, (key) => BigInt(key)), data, 1);
      search = (q) => Array.from(index.search(q, K, 1).keys, Number);
      break;
    }
    case 'hnswlib': {
      const { default: hnswlib } = await import('hnswlib-node');
      const index = new hnswlib.HierarchicalNSW('l2', dims);
      index.initIndex({ maxElements: n, m: HNSW_SETTINGS.connectivity, efConstruction: HNSW_SETTINGS.expansionAdd, randomSeed: 1 });
      index.setEf(HNSW_SETTINGS.expansionSearch);
      for (let i = 0; i < n; i++) index.addPoint(Array.from(data.subarray(i * dims, (i + 1) * dims)), i);
      search = (q) => index.searchKnn(Array.from(q), K).neighbors;
      break;
    }
    case 'lancedb':
    case 'gallery': {
      await initBackend({ announce: () => undefined });
      const identity = { fingerprint: 'sha256:bench', dims };
      const gallery = method === 'lancedb' ? await LanceGallery.open(join(work, 'lance'), identity) : await SqliteGallery.open(join(work, 'gallery.db'), identity);
      for (let start = 0; start < n; start += 20_000) {
        const end = Math.min(n, start + 20_000);
        await gallery.add(Array.from({ length: end - start }, (_, j) => ({ id: String(start + j), label: `c${(start + j) % 100}`, embedding: data.subarray((start + j) * dims, (start + j + 1) * dims) })));
      }
      await gallery.flush();
      search = async (q) => (await gallery.search(q, K)).map((hit) => Number(hit.id));
      close = () => gallery.close();
      break;
    }
    default:
      throw new Error(`unknown method ${method}`);
  }
  const buildSeconds = (performance.now() - build) / 1000;
  const { latencies, found } = await timeQueries(queries, dims, search);
  await close();
  if (method === 'exact') {
    const flat = new Int32Array(found.length * K);
    found.forEach((row, q) => flat.set(row.slice(0, K), q * K));
    await writeFile(truthPath, new Uint8Array(flat.buffer));
  }
  return { buildSeconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), recallAt10: truth ? recall(found, truth) : 1, peakRssMiB: peakRssMiB() };
}

/** numpy's exact scan, one query at a time (bench/search_numpy.py). */
function runNumpy(dataPath: string, queryPath: string, truthPath: string): Omit<Result, 'n' | 'dims' | 'method'> {
  const script = fileURLToPath(new URL('../../bench/search_numpy.py', import.meta.url));
  return JSON.parse(execFileSync('python3', [script, dataPath, queryPath, truthPath, String(K)], { encoding: 'utf8' }));
}

function runChild(method: Method, args: string[]): Promise<Omit<Result, 'n' | 'dims' | 'method'>> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', method, ...args], { execArgv: [] });
    child.once('message', (message) => resolve(message as Omit<Result, 'n' | 'dims' | 'method'>));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${method} exited with ${code}`))));
  });
}

const child = argValue('--child') as Method | undefined;
if (child !== undefined) {
  const [dataPath, queryPath, truthPath, work] = process.argv.slice(4);
  process.send!(await runMethod(child, dataPath!, queryPath!, truthPath!, work!));
  process.exit(0);
}

const sizes = (argValue('--sizes') ?? '10000,100000,1000000').split(',').map(Number);
const dimsList = (argValue('--dims') ?? '64,128').split(',').map(Number);
const queryCount = Number(argValue('--queries') ?? 1000);
const methods = (argValue('--methods') ?? METHODS.join(',')).split(',') as Method[];
const host = machine();
console.log(`${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB, node ${host.node}; ${queryCount} queries, k = ${K}, one at a time; HNSW M ${HNSW_SETTINGS.connectivity}, ef construction ${HNSW_SETTINGS.expansionAdd}, ef search ${HNSW_SETTINGS.expansionSearch}\n`);
const results: Result[] = [];
for (const n of sizes) {
  for (const dims of dimsList) {
    const work = await mkdtemp(join(tmpdir(), 'tripletjs-search-'));
    const { data, queries } = generate(n, dims, queryCount);
    const [dataPath, queryPath, truthPath] = ['data.npy', 'queries.npy', 'truth.bin'].map((name) => join(work, name)) as [string, string, string];
    await writeFile(dataPath, encodeNpy(data, n, dims));
    await writeFile(queryPath, encodeNpy(queries, queryCount, dims));
    // The exact scan first: it writes the truth the others are scored against.
    for (const method of ['exact', ...methods.filter((m) => m !== 'exact')] as Method[]) {
      if (!methods.includes(method) && method !== 'exact') continue;
      const result = method === 'numpy' ? runNumpy(dataPath, queryPath, truthPath) : await runChild(method, [dataPath, queryPath, truthPath, work]);
      results.push({ method, n, dims, ...result });
      console.log(`${n} × ${dims} ${method}: build ${result.buildSeconds.toFixed(1)} s, p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms, recall@10 ${result.recallAt10.toFixed(4)}, peak RSS ${result.peakRssMiB.toFixed(0)} MiB`);
    }
    await rm(work, { recursive: true, force: true });
  }
}
console.log(
  '\n' +
    markdownTable(
      ['vectors', 'dims', 'method', 'build s', 'p50 ms', 'p99 ms', 'recall@10', 'peak RSS MiB'],
      results.map((r) => [r.n.toLocaleString('en-US'), String(r.dims), r.method, r.buildSeconds.toFixed(1), r.p50Ms.toFixed(3), r.p99Ms.toFixed(3), r.recallAt10.toFixed(4), r.peakRssMiB.toFixed(0)]),
      new Set([3, 4, 5, 6, 7]),
    ),
);
const jsonPath = argValue('--json');
if (jsonPath) await writeFile(jsonPath, JSON.stringify({ machine: host, results }, null, 2) + '\n');
