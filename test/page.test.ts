import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadDataset } from '../src/data/index.js';
import { enrollDataset, openGallery, type Gallery } from '../src/gallery/index.js';
import { loadModel } from '../src/models/index.js';
import { createService } from '../src/server/service.js';
import { train } from '../src/training/index.js';
import './helpers/setup.js';

// The web page, used as a person would: real Chromium, real file pickers, a drop, clicks.

const CHROMIUM = '/usr/bin/chromium';
const ORL = fileURLToPath(new URL('../../data/orl-faces/', import.meta.url));
const face = (person: number, photo: number): string => join(ORL, `s${person}`, `${photo}.pgm`);
/** Screenshots for a person to look at: TRIPLETJS_SCREENSHOTS=dir keeps them there. */
const shots = process.env.TRIPLETJS_SCREENSHOTS;

let directory: string;
let gallery: Gallery & { flush(): Promise<void> };
let app: FastifyInstance;
let browser: Browser;
let page: Page;
let base: string;

async function screenshot(name: string): Promise<void> {
  if (shots) {
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }
}

describe('the web page in Chromium', { skip: !existsSync(CHROMIUM) && 'Debian chromium is not installed (.ci/run installs it)' }, () => {
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'tripletjs-page-'));
    // A real (short) training run, so the model card has its split, metrics and curves.
    const faces = await loadDataset('orl-faces');
    const trained = await train({ dataset: faces, model: { kind: 'mlp', hidden: [64], embeddingDim: 16 }, resizeTo: [28, 23], p: 10, epochs: 6, evalEvery: 3, outDir: join(directory, 'run') });
    trained.model.dispose();
    const loaded = await loadModel(join(directory, 'run', 'model'));
    gallery = await openGallery(join(directory, 'gallery.db'), { fingerprint: loaded.fingerprint, dims: 16 });
    // Two of the unseen people, as the demo's gallery holds all ten.
    await enrollDataset(gallery, loaded.model, loaded.metadata, faces, Int32Array.from({ length: 20 }, (_, i) => 360 + i));
    app = await createService({ model: loaded, gallery });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.querySelector('#summary')?.textContent?.includes('gallery of'));
    assert.deepEqual(errors, []);
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await gallery?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it('verify: two photos picked, or one dropped, give a verdict with the distance against the threshold', async () => {
    assert.equal(await page.isDisabled('#verify-run'), true, 'nothing to compare yet');
    await page.setInputFiles('#verify-a', face(37, 1));
    // The second photo is dropped on its zone.
    const bytes = [...(await readFile(face(37, 2)))];
    await page.evaluate((data) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], 's37-2.pgm'));
      document.querySelector('#drop-b')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    // PGM, which browsers do not draw, is previewed from its pixels.
    await page.waitForFunction(() => ['#drop-a', '#drop-b'].every((zone) => document.querySelector<HTMLImageElement>(`${zone} img`)!.naturalWidth === 92));
    await page.click('#verify-run');
    await page.waitForSelector('#verify-result .verdict');
    const text = await page.textContent('#verify-result');
    assert.match(text!, /(Same person|Different people)Distance \d\.\d{3}; the model says "same" up to \d\.\d{3}\./);
    assert.equal(await page.locator('#verify-result svg.scale circle').count(), 1);
    await screenshot('verify');
  });

  it('enroll: photos under a name appear in the gallery, with thumbnails, and can be removed', async () => {
    await page.click('nav button[data-tab="enroll"]');
    await page.fill('#enroll-label', 'visitor');
    await page.setInputFiles('#enroll-files', [face(3, 1), face(3, 2), face(3, 3)]);
    await page.click('#enroll-run');
    await page.waitForFunction(() => document.querySelector('#enroll-result')?.textContent?.startsWith('Enrolled 3 photos of visitor'));
    await page.waitForFunction(() => document.querySelectorAll('#gallery-items .card').length === 3);
    assert.equal(await page.inputValue('#gallery-label'), 'visitor');
    assert.equal(await page.evaluate(() => [...document.querySelectorAll<HTMLImageElement>('#gallery-items img')].every((img) => img.complete && img.naturalWidth > 0)), true, 'thumbnails load');
    assert.match((await page.textContent('#gallery-count'))!, /^23 photos of 3 people\.$/);
    await page.click('#gallery-items .card:first-child .remove');
    await page.waitForFunction(() => document.querySelectorAll('#gallery-items .card').length === 2);
    assert.match((await page.textContent('#enroll-result'))!, /Removed a photo of visitor/);
    assert.equal(await gallery.count(), 22);
    await screenshot('enroll');
  });

  it('search: the nearest photos as thumbnails with names and distances, and who it is', async () => {
    await page.click('nav button[data-tab="search"]');
    await page.setInputFiles('#search-file', face(38, 5));
    await page.fill('#search-k', '5');
    await page.click('#search-run');
    await page.waitForFunction(() => document.querySelectorAll('#search-results .card').length === 5);
    const captions = await page.locator('#search-results figcaption').allTextContents();
    assert.match(captions[0]!, /^s38 0\.000$/, 'the photo itself is in the gallery');
    assert.match((await page.textContent('#search-identity'))!, /^Identified as s38 \(distance 0\.000\)\.$/);
    await screenshot('search');
  });

  it('map: one dot per photo, coloured by person, with a legend', async () => {
    await page.click('nav button[data-tab="map"]');
    await page.waitForSelector('#map-plot svg.map');
    assert.equal(await page.locator('#map-plot circle').count(), await gallery.count());
    assert.deepEqual(await page.locator('#map-plot .legend span').allTextContents(), ['s37', 's38', 'visitor']);
    await screenshot('map');
  });

  it("model card: settings, validation and test metrics, the ROC curve and the distance histograms", async () => {
    await page.click('nav button[data-tab="model"]');
    await page.waitForSelector('#model-card .charts svg');
    const card = (await page.textContent('#model-card'))!;
    assert.match(card, /MLP 64→16/);
    assert.match(card, /orl-faces: train on 25 people/);
    assert.match(card, /chosen on validation pairs/);
    assert.equal(await page.locator('#model-card table tbody tr').count(), 10);
    assert.equal(await page.locator('#model-card .charts polyline').count(), 3, 'ROC, same-person and different-person histograms');
    await screenshot('model');
  });
});
