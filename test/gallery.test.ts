import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TripletjsInputError } from '../src/common/errors.js';
import { EXACT_BELOW, galleryMap, identify, openGallery, verifyEmbeddings, type Gallery, type NewGalleryItem } from '../src/gallery/index.js';
import { createModel, embed } from '../src/models/index.js';
import { EmbeddingBatcher } from '../src/server/embedding-batcher.js';
import { SeededRandom } from '../src/common/random.js';
import './helpers/setup.js';

const directories: string[] = [];
async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'tripletjs-gallery-'));
  directories.push(directory);
  return directory;
}
after(async () => {
  await Promise.all(directories.map((d) => rm(d, { recursive: true, force: true })));
});

const DIMS = 8;
const identity = { fingerprint: 'sha256:' + 'a'.repeat(64), dims: DIMS, model: 'test-model' };

/** `n` seeded unit vectors, clustered around one centre per label. */
function unitVectors(n: number, seed: number, dims = DIMS, labels = 5): { vectors: Float32Array[]; labels: string[] } {
  const random = new SeededRandom(seed);
  const centres = Array.from({ length: labels }, () => Float32Array.from({ length: dims }, () => random.float() * 2 - 1));
  const vectors: Float32Array[] = [];
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % labels;
    const v = Float32Array.from(centres[label]!, (c) => c + 0.3 * (random.float() * 2 - 1));
    const norm = Math.hypot(...v);
    vectors.push(v.map((x) => x / norm));
    names.push(`person-${label}`);
  }
  return { vectors, labels: names };
}

/** Brute-force Euclidean k nearest (ids, distances), ties by insertion order. */
function bruteForce(items: Array<{ id: string; label: string; embedding: Float32Array }>, query: Float32Array, k: number, labels?: string[]) {
  return items
    .filter((item) => labels === undefined || labels.includes(item.label))
    .map((item, order) => ({ id: item.id, order, distance: Math.sqrt(item.embedding.reduce((s, v, d) => s + (v - query[d]!) ** 2, 0)) }))
    .sort((a, b) => a.distance - b.distance || a.order - b.order)
    .slice(0, k);
}

const STORES: Array<[string, (dir: string) => string]> = [
  ['SQLite + HNSW', (dir) => join(dir, 'gallery.db')],
  ['LanceDB (local disk)', (dir) => `lance:${join(dir, 'gallery.lance')}`],
];

for (const [store, locationIn] of STORES) {
  describe(`gallery contract: ${store}`, () => {
    it('adds, gets, counts, lists labels, removes; ids given or made', async () => {
      const gallery = await openGallery(locationIn(await temporaryDirectory()), identity);
      const { vectors } = unitVectors(3, 1);
      const ids = await gallery.add([
        { id: 'alice-1', label: 'alice', embedding: vectors[0]!, metadata: { source: 'a.jpg' }, thumbnail: Uint8Array.of(1, 2, 3) },
        { label: 'bob', embedding: vectors[1]! },
        { label: 'alice', embedding: vectors[2]! },
      ]);
      assert.equal(ids[0], 'alice-1');
      assert.match(ids[1]!, /^[0-9a-f-]{36}$/);
      assert.equal(await gallery.count(), 3);
      assert.deepEqual(await gallery.labels(), [{ label: 'alice', count: 2 }, { label: 'bob', count: 1 }]);
      const got = await gallery.get('alice-1');
      assert.deepEqual(got, { id: 'alice-1', label: 'alice', metadata: { source: 'a.jpg' }, embedding: vectors[0], thumbnail: Uint8Array.of(1, 2, 3) });
      assert.equal(await gallery.get('nobody'), undefined);
      assert.equal(await gallery.remove('alice-1'), true);
      assert.equal(await gallery.remove('alice-1'), false);
      assert.equal(await gallery.count(), 2);
      assert.deepEqual((await gallery.search(vectors[0]!, 5)).map((h) => h.id).sort(), [ids[1], ids[2]].sort());
      await gallery.close();
    });

    it('a batch with one bad entry, or a taken id, adds nothing', async () => {
      const gallery = await openGallery(locationIn(await temporaryDirectory()), identity);
      const { vectors } = unitVectors(2, 2);
      await gallery.add([{ id: 'x', label: 'a', embedding: vectors[0]! }]);
      const bad: Array<[NewGalleryItem[], RegExp]> = [
        [[{ label: 'a', embedding: vectors[1]! }, { label: 'b', embedding: new Float32Array(3) }], /item 1: embedding has 3 values, the gallery's model embeds in 8/],
        [[{ label: 'a', embedding: vectors[1]! }, { label: 'b', embedding: new Float32Array(DIMS).fill(NaN) }], /item 1: embedding holds NaN/],
        [[{ label: '', embedding: vectors[1]! }], /label must be a non-empty string/],
        [[{ id: 'has space', label: 'a', embedding: vectors[1]! }], /id must be/],
        [[{ id: 'y', label: 'a', embedding: vectors[1]! }, { id: 'y', label: 'b', embedding: vectors[1]! }], /id y appears twice/],
        [[{ id: 'z', label: 'a', embedding: vectors[1]! }, { id: 'x', label: 'b', embedding: vectors[1]! }], /already in the gallery.*nothing was added/],
      ];
      for (const [items, message] of bad) {
        await assert.rejects(gallery.add(items), (e: unknown) => e instanceof TripletjsInputError && message.test(e.message), String(message));
        assert.equal(await gallery.count(), 1, `${message}: nothing added`);
      }
      assert.equal(await gallery.get('z'), undefined);
      await assert.rejects(gallery.search(new Float32Array(4), 3), /the query has 4 values/);
      await assert.rejects(gallery.search(vectors[0]!, 0), /k must be an integer from 1 to 1000/);
      await gallery.close();
    });

    it('search returns what brute force returns, restricted to labels on request; identify is open-set', async () => {
      const gallery = await openGallery(locationIn(await temporaryDirectory()), identity);
      const { vectors, labels } = unitVectors(60, 3);
      const items = vectors.map((embedding, i) => ({ id: `item-${i}`, label: labels[i]!, embedding }));
      await gallery.add(items);
      const { vectors: queries } = unitVectors(5, 4);
      for (const query of queries) {
        const expected = bruteForce(items, query, 7);
        const hits = await gallery.search(query, 7);
        assert.deepEqual(hits.map((h) => h.id), expected.map((e) => e.id));
        hits.forEach((hit, i) => assert.ok(Math.abs(hit.distance - expected[i]!.distance) < 1e-5, `${hit.distance} vs ${expected[i]!.distance}`));
        const only = await gallery.search(query, 4, { labels: ['person-2', 'person-4'] });
        assert.deepEqual(only.map((h) => h.id), bruteForce(items, query, 4, ['person-2', 'person-4']).map((e) => e.id));
        assert.deepEqual(await gallery.search(query, 4, { labels: [] }), []);
      }
      const probe = items[10]!.embedding;
      const known = await identify(gallery, probe, 0.5);
      // Itself, at distance 0 up to float32 rounding (the scan expands |q|² + |r|² − 2 q·r).
      assert.deepEqual([known.label, known.distance! < 1e-3], [items[10]!.label, true]);
      const far = Float32Array.from(probe, (v) => -v);
      const unknown = await identify(gallery, far, 0.5);
      assert.equal(unknown.label, null, `nearest at ${unknown.distance}`);
      assert.ok(unknown.nearest !== undefined && unknown.distance! > 0.5);
      await gallery.close();
    });

    it('persists: reopened it holds the same; another model or dimension is refused', async () => {
      const location = locationIn(await temporaryDirectory());
      const first = await openGallery(location, identity);
      const { vectors, labels } = unitVectors(20, 5);
      await first.add(vectors.map((embedding, i) => ({ id: `p${i}`, label: labels[i]!, embedding })));
      await first.remove('p3');
      await first.close();
      const again = await openGallery(location, identity);
      assert.equal(await again.count(), 19);
      assert.deepEqual((await again.get('p4'))!.embedding, vectors[4]);
      assert.equal((await again.search(vectors[7]!, 1))[0]!.id, 'p7');
      await again.close();
      await assert.rejects(openGallery(location, { ...identity, fingerprint: 'sha256:' + 'b'.repeat(64), model: 'other-model' }), /holds embeddings of another model \(test-model\) than other-model/);
      await assert.rejects(openGallery(location, { ...identity, dims: 16 }), /holds 8-dimensional embeddings, the model makes 16/);
    });

    it('an acknowledged add survives kill -9 of the process', async () => {
      const location = locationIn(await temporaryDirectory());
      const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/gallery-writer.js', import.meta.url)), location], { stdio: ['ignore', 'pipe', 'inherit'] });
      let acknowledged = 0;
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          acknowledged = Math.max(acknowledged, ...chunk.toString().trim().split('\n').map(Number));
          // Killed mid-stream, right after an acknowledgement, with more writes in flight.
          if (acknowledged >= 20 && !child.killed) child.kill('SIGKILL');
        });
        child.once('exit', () => (acknowledged >= 20 ? resolve() : reject(new Error('the writer exited early'))));
      });
      const gallery = await openGallery(location, identity);
      const count = await gallery.count();
      assert.ok(count >= acknowledged, `${acknowledged} acknowledged, ${count} found`);
      for (let i = 1; i <= acknowledged; i++) assert.ok(await gallery.get(`w${i}`), `w${i} was acknowledged`);
      await gallery.close();
    });
  });
}

describe('SQLite gallery: the HNSW index', () => {
  it('large galleries search the graph (recall@10 ≥ 0.95), which is saved, caught up after writes, and rebuilt when corrupt', async () => {
    const directory = await temporaryDirectory();
    const location = join(directory, 'big.db');
    const dims = 32;
    const big = { ...identity, dims };
    const { vectors, labels } = unitVectors(EXACT_BELOW + 500, 7, dims, 200);
    const gallery = await openGallery(location, big);
    const ids = await gallery.add(vectors.map((embedding, i) => ({ id: `v${i}`, label: labels[i]!, embedding })));
    // Queries near the data (a stored vector, moved a little), as real queries are.
    const random = new SeededRandom(8);
    const queries = Array.from({ length: 50 }, (_, i) => {
      const moved = vectors[i * 200]!.map((v) => v + 0.05 * (random.float() * 2 - 1));
      return moved.map((v) => v / Math.hypot(...moved));
    });
    const recall = async (g: Gallery): Promise<number> => {
      let found = 0;
      for (const query of queries) {
        const exact = new Set((await g.search(query, 10, { exact: true })).map((h) => h.id));
        found += (await g.search(query, 10)).filter((h) => exact.has(h.id)).length;
      }
      return found / (10 * queries.length);
    };
    const before = await recall(gallery);
    assert.ok(before >= 0.95, `recall@10 ${before}`);
    await gallery.close();
    assert.ok(existsSync(`${location}.hnsw`) && existsSync(`${location}.hnsw.json`), 'the graph is saved beside the store');

    // Writes after the save: the next open catches up from the store.
    const reopened = await openGallery(location, big);
    assert.ok((await recall(reopened)) >= 0.95);
    await reopened.remove(ids[0]!);
    const extra = Float32Array.from(vectors[1]!, (v, d) => (d === 0 ? -v : v));
    await reopened.add([{ id: 'extra', label: 'new', embedding: extra.map((v) => v / Math.hypot(...extra)) }]);
    // Closed without saving the graph, as a killed process would leave it.
    (reopened as unknown as { indexSaved: boolean }).indexSaved = true;
    await reopened.close();
    const caughtUp = await openGallery(location, big);
    assert.notEqual((await caughtUp.search(vectors[0]!, 1))[0]!.id, 'v0', 'a removed entry is not found');
    assert.equal((await caughtUp.search((await caughtUp.get('extra'))!.embedding, 1))[0]!.id, 'extra');
    await caughtUp.close();

    // A truncated graph file (usearch would abort the process on it) is noticed and rebuilt.
    const file = await readFile(`${location}.hnsw`);
    await writeFile(`${location}.hnsw`, file.subarray(0, file.length >> 1));
    const rebuilt = await openGallery(location, big);
    assert.ok((await recall(rebuilt)) >= 0.95);
    assert.equal(await rebuilt.count(), EXACT_BELOW + 500);
    await rebuilt.close();
  });

  it('a file that is not a gallery is a clear error', async () => {
    const path = join(await temporaryDirectory(), 'not-a-gallery.db');
    await writeFile(path, 'this is text, not SQLite '.repeat(100));
    await assert.rejects(openGallery(path, identity), /not-a-gallery\.db is not a tripletjs gallery/);
  });
});

describe('verification', () => {
  it('distance against the threshold, by hand', () => {
    const a = Float32Array.of(1, 0, 0);
    const b = Float32Array.of(0.6, 0.8, 0);
    // |a − b| = √(0.16 + 0.64) = √0.8, with the float32 values of 0.6 and 0.8.
    const verdict = verifyEmbeddings(a, b, 0.9);
    assert.ok(Math.abs(verdict.distance - Math.sqrt(0.8)) < 1e-7, String(verdict.distance));
    assert.deepEqual([verdict.threshold, verdict.same], [0.9, true]);
    assert.equal(verifyEmbeddings(a, b, 0.89).same, false);
    assert.throws(() => verifyEmbeddings(a, Float32Array.of(1, 0), 0.9), /3 and 2 values/);
  });
});

describe('gallery map and the inference batcher', () => {
  it('the map is the two principal components: points on a line keep their order, the first axis explains all', async () => {
    const gallery = await openGallery(join(await temporaryDirectory(), 'line.db'), identity);
    // Five points along one direction (unit vectors are not needed by the map).
    const direction = Float32Array.from({ length: DIMS }, (_, d) => (d + 1) / 10);
    await gallery.add([0, 1, 2, 3, 4].map((t) => ({ id: `p${t}`, label: t < 2 ? 'low' : 'high', embedding: direction.map((v) => v * t) })));
    const map = await galleryMap(gallery);
    assert.equal(map.total, 5);
    assert.ok(map.explained[0] > 0.999, `explained ${map.explained}`);
    const xs = map.points.map((p) => p.x);
    const increasing = xs.every((x, i) => i === 0 || x > xs[i - 1]!);
    const decreasing = xs.every((x, i) => i === 0 || x < xs[i - 1]!);
    assert.ok(increasing || decreasing, `x along the line: ${xs}`);
    assert.ok(map.points.every((p) => Math.abs(p.y) < 1e-6));
    await gallery.close();
  });

  it('concurrent images go into one model call; each gets its own embedding', async () => {
    const model = createModel({ kind: 'mlp', hidden: [8], embeddingDim: 4 }, { inputShape: [6, 5, 1] }, 1);
    const sizes: number[] = [];
    const batcher = new EmbeddingBatcher(model, { maxBatch: 4, maxWaitMs: 20, onBatch: (size) => sizes.push(size) });
    const images = Array.from({ length: 6 }, (_, i) => Uint8Array.from({ length: 30 }, (_, j) => (i * 31 + j * 7) % 256));
    const embeddings = await Promise.all(images.map((pixels) => batcher.embed(pixels)));
    assert.deepEqual(sizes, [4, 2], 'a full batch at once, the rest after the wait');
    images.forEach((pixels, i) => assert.deepEqual(embeddings[i], embed(model, pixels, 1), `image ${i}`));
    model.dispose();
  });
});
