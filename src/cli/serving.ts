import { basename } from 'node:path';
import type { Command } from 'commander';
import { TripletjsInputError } from '../common/errors.js';
import { checkDatasetName, loadDataset } from '../data/registry.js';
import { readImage } from '../data/read-image.js';
import { embedFiles } from '../models/embed-files.js';
import { modelInputFormat } from '../models/model-config.js';
import { checkModelDirectory, loadModel } from '../models/model-files.js';
import type { LoadedModel } from '../models/model-format.js';
import { enrollDataset, enrollImages } from '../gallery/enroll.js';
import { loadEmbeddingsFile, checkEmbeddingsModel } from '../gallery/embeddings-file.js';
import { verifyEmbeddings } from '../gallery/identify.js';
import { openGallery } from '../gallery/open-gallery.js';
import { createService } from '../server/service.js';
import { savedSplitOf } from '../training/saved-split.js';
import { integer, output, start } from './common.js';

/** Loads a model after checking its folder exists (before the backend starts) and starts the backend. */
async function startWith(modelDirectory: string): Promise<LoadedModel> {
  await checkModelDirectory(modelDirectory);
  await start();
  return loadModel(modelDirectory);
}

function identityOf(loaded: LoadedModel, directory: string) {
  return { fingerprint: loaded.fingerprint, dims: loaded.metadata.embeddingDim, model: directory };
}

/** The model's threshold, or a clear error for a model saved without one. */
function thresholdOf(loaded: LoadedModel, directory: string): number {
  const threshold = loaded.metadata.verification?.threshold;
  if (threshold === undefined) throw new TripletjsInputError(`${directory} has no verification threshold (it was trained without a validation split)`);
  return threshold;
}

/** `triplet verify`, `triplet serve` and `triplet gallery …`: the commands that put a trained model to work. */
export function addServingCommands(program: Command): void {
  program
    .command('verify')
    .description("are two images of the same identity? The distance of their embeddings against the model's threshold (chosen on validation pairs)")
    .requiredOption('--model <dir>', 'model directory')
    .argument('<a>', 'first image (JPEG, PNG, WebP, TIFF, AVIF, GIF or PGM)')
    .argument('<b>', 'second image')
    .option('--json', 'print JSON')
    .action(async (a: string, b: string, flags: { model: string; json?: boolean }) => {
      const loaded = await startWith(flags.model);
      const threshold = thresholdOf(loaded, flags.model);
      const embeddings = await embedFiles(loaded.model, loaded.metadata, [a, b]);
      const dims = embeddings.length / 2;
      const verdict = verifyEmbeddings(embeddings.subarray(0, dims), embeddings.subarray(dims), threshold);
      output(flags.json === true, verdict, `${verdict.same ? 'same' : 'different'}: distance ${verdict.distance.toFixed(4)}, threshold ${threshold.toFixed(4)}`);
    });

  program
    .command('serve')
    .description('serve a model and its gallery over HTTP: the JSON API (OpenAPI at /openapi.json), metrics, and the web page at /')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--gallery <path>', 'gallery: an SQLite file (e.g. gallery.db; created if missing), lance:<folder>, or s3://… for LanceDB')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', integer('--port'), 8080)
    .option('--api-key <key>', 'require this key for writes (default: $TRIPLETJS_API_KEY; none: writes are open)')
    .option('--enroll <dataset>', "when the gallery is empty, enroll the test images of this dataset (the model's own split: for the demo, the unseen ORL people)")
    .option('--max-in-flight <n>', 'requests in progress beyond which new ones get 503 at once', integer('--max-in-flight'), 64)
    .action(async (flags: { model: string; gallery: string; host: string; port: number; apiKey?: string; enroll?: string; maxInFlight: number }) => {
      if (flags.enroll !== undefined) checkDatasetName(flags.enroll);
      const loaded = await startWith(flags.model);
      const gallery = await openGallery(flags.gallery, identityOf(loaded, flags.model));
      try {
        if (flags.enroll !== undefined && (await gallery.count()) === 0) {
          const saved = savedSplitOf(loaded.metadata);
          const own = saved?.name === flags.enroll;
          const dataset = await loadDataset(flags.enroll, own ? saved.options : {});
          const { queries } = dataset.split(own ? saved.fold : undefined).test;
          process.stderr.write(`enrolling the ${queries.length} test images of ${dataset.name} …\n`);
          await enrollDataset(gallery, loaded.model, loaded.metadata, dataset, queries);
          await gallery.flush();
        }
        const apiKey = flags.apiKey ?? process.env.TRIPLETJS_API_KEY;
        const app = await createService({ model: loaded, gallery, ...(apiKey ? { apiKey } : {}), maxInFlight: flags.maxInFlight });
        const address = await app.listen({ host: flags.host, port: flags.port });
        const flusher = setInterval(() => void gallery.flush().catch((error: Error) => process.stderr.write(`warning: saving the gallery index failed: ${error.message}\n`)), 60_000);
        process.stderr.write(`serving ${flags.model} with ${await gallery.count()} gallery entries at ${address} (page at ${address}/, API at ${address}/openapi.json)${apiKey ? '; writes need the API key' : ''}\n`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.stderr.write('stopping …\n');
            resolve();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        clearInterval(flusher);
        await app.close();
      } finally {
        await gallery.close();
      }
    });

  const galleryCommand = program.command('gallery').description('manage a gallery: add images, import embeddings, list, remove');
  const withGallery = (command: Command): Command =>
    command.requiredOption('--gallery <path>', 'gallery: an SQLite file, lance:<folder> or s3://…').requiredOption('--model <dir>', 'the model whose embeddings it holds');

  withGallery(galleryCommand.command('add').description('enroll image files under a label (one transaction)'))
    .requiredOption('--label <name>', 'who or what the images show')
    .argument('<images...>', 'image files')
    .action(async (files: string[], flags: { gallery: string; model: string; label: string }) => {
      const loaded = await startWith(flags.model);
      const { background } = modelInputFormat(loaded.metadata.preprocessing);
      const images = [];
      for (const file of files) images.push({ image: await readImage(file, undefined, background), label: flags.label, metadata: { source: file } });
      const gallery = await openGallery(flags.gallery, identityOf(loaded, flags.model));
      try {
        const ids = await enrollImages(gallery, loaded.model, loaded.metadata, images);
        process.stdout.write(`${ids.length} images of ${flags.label} enrolled: ${ids.join(', ')}\n`);
      } finally {
        await gallery.close();
      }
    });

  withGallery(galleryCommand.command('import').description('add the rows of an embeddings file of triplet embed (made by the same model)'))
    .requiredOption('--from <file.npy>', 'embeddings from triplet embed')
    .action(async (flags: { gallery: string; model: string; from: string }) => {
      const loaded = await startWith(flags.model);
      const file = await loadEmbeddingsFile(flags.from);
      checkEmbeddingsModel(file, loaded.fingerprint, flags.model);
      const gallery = await openGallery(flags.gallery, identityOf(loaded, flags.model));
      try {
        const rows = file.labels.length;
        const ids = await gallery.add(
          Array.from({ length: rows }, (_, i) => ({
            label: file.labels[i]! < 0 ? basename(file.sources[i]!) : file.classNames[file.labels[i]!]!,
            embedding: file.embeddings.slice(i * file.dims, (i + 1) * file.dims),
            metadata: { source: file.sources[i]! },
          })),
        );
        await gallery.flush();
        process.stdout.write(`${ids.length} embeddings imported into ${flags.gallery} (${await gallery.count()} entries)\n`);
      } finally {
        await gallery.close();
      }
    });

  withGallery(galleryCommand.command('list').description('labels and counts, or the entries of one label'))
    .option('--label <name>', 'list the entries of this label')
    .option('--json', 'print JSON')
    .action(async (flags: { gallery: string; model: string; label?: string; json?: boolean }) => {
      const loaded = await startWith(flags.model);
      const gallery = await openGallery(flags.gallery, identityOf(loaded, flags.model));
      try {
        if (flags.label !== undefined) {
          const items = await gallery.list({ label: flags.label, limit: 10_000 });
          output(flags.json === true, items, items.map((item) => `${item.id}\t${item.label}`).join('\n'));
        } else {
          const labels = await gallery.labels();
          output(flags.json === true, { count: await gallery.count(), labels }, [`${await gallery.count()} entries`, ...labels.map((l) => `${l.label}\t${l.count}`)].join('\n'));
        }
      } finally {
        await gallery.close();
      }
    });

  withGallery(galleryCommand.command('remove').description('remove entries by id'))
    .argument('<ids...>', 'ids of the entries')
    .action(async (ids: string[], flags: { gallery: string; model: string }) => {
      const loaded = await startWith(flags.model);
      const gallery = await openGallery(flags.gallery, identityOf(loaded, flags.model));
      try {
        const missing: string[] = [];
        for (const id of ids) if (!(await gallery.remove(id))) missing.push(id);
        process.stdout.write(`${ids.length - missing.length} removed${missing.length ? `; not found: ${missing.join(', ')}` : ''}\n`);
        if (missing.length > 0) process.exitCode = 1;
      } finally {
        await gallery.close();
      }
    });
}
