import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import { modelInputFormat } from '../models/model-config.js';
import type { LoadedModel } from '../models/model-format.js';
import { enrollImages } from '../gallery/enroll.js';
import type { Gallery } from '../gallery/gallery.js';
import { identify, verifyEmbeddings } from '../gallery/identify.js';
import { galleryMap } from '../gallery/map.js';
import { EmbeddingBatcher, type BatcherOptions } from './embedding-batcher.js';
import { errorResponse, ServiceError } from './errors.js';
import { ServiceMetrics } from './metrics.js';
import { decodeUpload, oneField, oneFile, readUpload, type UploadedFile } from './uploads.js';
import { VERSION } from '../version.js';

/** Options of {@link createService}. */
export interface ServiceOptions {
  /** The model that embeds, with its metadata (threshold, preprocessing) and fingerprint. */
  readonly model: LoadedModel;
  /** The gallery it searches and enrolls into (made by the same model). */
  readonly gallery: Gallery;
  /** When given, writes (enroll, remove) need it in `x-api-key` or `authorization: Bearer …`. */
  readonly apiKey?: string;
  /** Requests in progress beyond which new ones get 503 at once (default 64). */
  readonly maxInFlight?: number;
  /** Largest image file (default 10 MiB) and most images per request (default 64). */
  readonly maxImageBytes?: number;
  readonly maxImages?: number;
  /** Largest JSON body (default 4 MiB). */
  readonly maxJsonBytes?: number;
  /** Micro-batching of inference. */
  readonly batch?: BatcherOptions;
  /** Log requests (default false). */
  readonly logger?: boolean;
}

const PAGE = fileURLToPath(new URL('../../../page/', import.meta.url));
const PAGE_FILES: Readonly<Record<string, string>> = { 'app.js': 'text/javascript', 'style.css': 'text/css' };

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
  required: ['error'],
} as const;
const hitSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, label: { type: 'string' }, distance: { type: 'number' }, metadata: { type: 'object', additionalProperties: true } },
  required: ['id', 'label', 'distance'],
} as const;
const multipartNote = 'multipart/form-data';

/**
 * The HTTP service of a model and its gallery (fastify): embed, verify, enroll, search and
 * identify, the gallery's contents and map, the model's card, health, Prometheus metrics, an
 * OpenAPI document at `/openapi.json` and the web page at `/`. Bad input is a 4xx
 * `{ error: { code, message } }` and changes nothing; past `maxInFlight` requests in progress, new
 * ones get 503 at once rather than waiting; concurrent requests' images are embedded together.
 */
export async function createService(options: ServiceOptions): Promise<FastifyInstance> {
  const { model, gallery } = options;
  const { metadata, fingerprint } = model;
  const maxInFlight = options.maxInFlight ?? 64;
  const threshold = metadata.verification?.threshold;
  const inputFormat = modelInputFormat(metadata.preprocessing);
  const metrics = new ServiceMetrics(() => gallery.count());
  const batcher = new EmbeddingBatcher(model.model, { ...options.batch, onBatch: (size) => metrics.batchSize.observe(size) });
  const embedUpload = async (file: UploadedFile): Promise<Float32Array> => batcher.embed((await decodeUpload(file, inputFormat.background, inputFormat)).pixels);
  const needThreshold = (): number => {
    if (threshold === undefined) throw new ServiceError(409, 'no_threshold', 'the model has no verification threshold (it was trained without a validation split)');
    return threshold;
  };

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.maxJsonBytes ?? 4 * 1024 * 1024,
    // Bad input is refused, never silently repaired.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  await app.register(swagger, {
    openapi: { openapi: '3.0.3', info: { title: 'tripletjs service', version: VERSION, description: `Embeddings of model ${fingerprint}` } },
  });
  await app.register(multipart, {
    limits: { fileSize: options.maxImageBytes ?? 10 * 1024 * 1024, files: options.maxImages ?? 64, fields: 16, parts: (options.maxImages ?? 64) + 16 },
  });

  let inFlight = 0;
  const counted = new WeakSet<FastifyRequest>();
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return;
    if (inFlight >= maxInFlight) {
      metrics.shed.inc();
      reply.header('retry-after', '1');
      throw new ServiceError(503, 'overloaded', `${inFlight} requests in progress: try again shortly`);
    }
    inFlight++;
    counted.add(request);
  });
  const release = async (request: FastifyRequest): Promise<void> => {
    if (counted.delete(request)) inFlight--;
  };
  app.addHook('onResponse', async (request, reply) => {
    await release(request);
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.addHook('onRequestAbort', release);
  app.setErrorHandler(async (error, _request, reply) => {
    const { status, body } = errorResponse(error);
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler(async (request, reply) => reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } }));

  const requireKey = async (request: FastifyRequest): Promise<void> => {
    if (options.apiKey === undefined) return;
    const given = request.headers['x-api-key'] ?? request.headers.authorization?.replace(/^Bearer /, '');
    const ok = typeof given === 'string' && given.length === options.apiKey.length && timingSafeEqual(Buffer.from(given), Buffer.from(options.apiKey));
    if (!ok) throw new ServiceError(401, 'unauthorized', 'writes need the API key (x-api-key header or Authorization: Bearer)');
  };
  const kOf = (text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 1000) throw new ServiceError(400, 'invalid_request', `k must be an integer from 1 to 1000, got '${text}'`);
    return Number(text);
  };
  const toVector = (values: number[]): Float32Array => Float32Array.from(values);
  const embeddingSchema = { type: 'array', items: { type: 'number' }, minItems: gallery.dims, maxItems: gallery.dims } as const;

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', { schema: { summary: 'Liveness and what is served' } }, async () => ({ status: 'ok', model: fingerprint, entries: await gallery.count() }));

  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text format)' } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/v1/model', { schema: { summary: "The model's card: training settings, split, validation and test metrics, threshold, curves" } }, async () => ({
    fingerprint,
    libraryVersion: metadata.libraryVersion,
    createdAt: metadata.createdAt,
    config: metadata.config,
    preprocessing: metadata.preprocessing,
    embeddingDim: metadata.embeddingDim,
    dataset: metadata.dataset ? { ...metadata.dataset, classNames: undefined } : null,
    training: metadata.training ?? null,
    verification: metadata.verification ?? null,
    metrics: metadata.metrics ?? null,
  }));

  app.post(
    '/v1/embed',
    { schema: { summary: 'The embedding of an image', consumes: [multipartNote], description: 'multipart field `image`', response: { 200: { type: 'object', properties: { embedding: embeddingSchema, model: { type: 'string' } } }, '4xx': errorSchema } } },
    async (request) => {
      return { embedding: Array.from(await embedUpload(oneFile(await readUpload(request), 'image'))), model: fingerprint };
    },
  );

  app.post(
    '/v1/verify',
    {
      schema: {
        summary: 'Are the two images of the same identity?',
        consumes: [multipartNote],
        description: 'multipart fields `a` and `b`; same when the distance is at most the threshold chosen on validation pairs',
        response: { 200: { type: 'object', properties: { distance: { type: 'number' }, threshold: { type: 'number' }, same: { type: 'boolean' } } }, '4xx': errorSchema },
      },
    },
    async (request) => {
      const upload = await readUpload(request);
      const [a, b] = await Promise.all([embedUpload(oneFile(upload, 'a')), embedUpload(oneFile(upload, 'b'))]);
      return verifyEmbeddings(a, b, needThreshold());
    },
  );

  app.post(
    '/v1/identify',
    {
      schema: {
        summary: 'Who is it? The nearest identity, or null past the threshold (open set)',
        consumes: [multipartNote],
        description: 'multipart field `image`',
        response: { 200: { type: 'object', properties: { label: { type: 'string', nullable: true }, distance: { type: 'number', nullable: true }, threshold: { type: 'number' }, nearest: { ...hitSchema, nullable: true } } }, '4xx': errorSchema },
      },
    },
    async (request) => {
      const found = await identify(gallery, await embedUpload(oneFile(await readUpload(request), 'image')), needThreshold());
      return { label: found.label, distance: found.distance ?? null, threshold: found.threshold, nearest: found.nearest ?? null };
    },
  );

  app.post(
    '/v1/search',
    {
      schema: {
        summary: 'The k gallery entries nearest to an image or an embedding',
        querystring: { type: 'object', properties: { k: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'neighbours (1–1000, default 10)' } }, additionalProperties: false },
        body: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { embedding: embeddingSchema, labels: { type: 'array', items: { type: 'string' }, maxItems: 1000 }, exact: { type: 'boolean' } },
                required: ['embedding'],
                additionalProperties: false,
              },
            },
          },
        },
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: hitSchema } } }, '4xx': errorSchema },
      },
    },
    async (request) => {
      const k = kOf((request.query as { k?: string }).k, 10);
      if (request.isMultipart()) {
        return { results: await gallery.search(await embedUpload(oneFile(await readUpload(request), 'image')), k) };
      }
      const body = request.body as { embedding: number[]; labels?: string[]; exact?: boolean } | undefined;
      if (body === undefined) throw new ServiceError(400, 'invalid_request', 'send an image (multipart field `image`) or JSON { embedding }');
      return { results: await gallery.search(toVector(body.embedding), k, { ...(body.labels ? { labels: body.labels } : {}), ...(body.exact ? { exact: true } : {}) }) };
    },
  );

  app.get(
    '/v1/gallery',
    { schema: { summary: 'How many entries, per label', response: { 200: { type: 'object', properties: { count: { type: 'integer' }, labels: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, count: { type: 'integer' } } } } } } } } },
    async () => ({ count: await gallery.count(), labels: await gallery.labels() }),
  );

  app.post(
    '/v1/gallery',
    {
      preHandler: requireKey,
      schema: {
        summary: 'Enroll images under a label (multipart `image`, repeatable, `label`, optional `id`), or add embeddings (JSON); all or nothing',
        body: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  items: {
                    type: 'array',
                    minItems: 1,
                    maxItems: 10_000,
                    items: {
                      type: 'object',
                      properties: { id: { type: 'string' }, label: { type: 'string' }, embedding: embeddingSchema, metadata: { type: 'object', additionalProperties: true } },
                      required: ['label', 'embedding'],
                      additionalProperties: false,
                    },
                  },
                },
                required: ['items'],
                additionalProperties: false,
              },
            },
          },
        },
        response: { 201: { type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } } } }, '4xx': errorSchema },
      },
    },
    async (request, reply) => {
      let ids: string[];
      if (request.isMultipart()) {
        const upload = await readUpload(request);
        const files = upload.files.get('image') ?? [];
        const label = oneField(upload, 'label');
        const id = oneField(upload, 'id');
        if (files.length === 0) throw new ServiceError(400, 'invalid_request', "the image field 'image' is missing");
        if (label === undefined) throw new ServiceError(400, 'invalid_request', "the field 'label' is missing");
        if (id !== undefined && files.length > 1) throw new ServiceError(400, 'invalid_request', "'id' names one entry: give one image with it");
        // Decoded whole: each is kept as a thumbnail too.
        const images = await Promise.all(files.map((file) => decodeUpload(file, inputFormat.background)));
        ids = await enrollImages(
          gallery,
          model.model,
          metadata,
          images.map((image, i) => ({ image, label, ...(id !== undefined ? { id } : {}), metadata: { source: files[i]!.name } })),
        );
      } else {
        const { items } = request.body as { items: Array<{ id?: string; label: string; embedding: number[]; metadata?: Record<string, unknown> }> };
        ids = await gallery.add(items.map((item) => ({ ...item, embedding: toVector(item.embedding) })));
      }
      return reply.status(201).send({ ids });
    },
  );

  app.get(
    '/v1/gallery/items',
    {
      schema: {
        summary: 'Entries, all or of one label, in insertion order',
        querystring: { type: 'object', properties: { label: { type: 'string' }, limit: { type: 'string', pattern: '^[0-9]{1,5}$' }, offset: { type: 'string', pattern: '^[0-9]{1,9}$' } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, label: { type: 'string' }, metadata: { type: 'object', additionalProperties: true } } } } } }, '4xx': errorSchema },
      },
    },
    async (request) => {
      const { label, limit, offset } = request.query as { label?: string; limit?: string; offset?: string };
      return { items: await gallery.list({ ...(label !== undefined ? { label } : {}), ...(limit !== undefined ? { limit: Number(limit) } : {}), ...(offset !== undefined ? { offset: Number(offset) } : {}) }) };
    },
  );

  app.get('/v1/gallery/map', { schema: { summary: 'The gallery projected on its two principal components', querystring: { type: 'object', properties: { limit: { type: 'string', pattern: '^[0-9]{1,5}$' } }, additionalProperties: false } } }, async (request) =>
    galleryMap(gallery, Math.max(1, Number((request.query as { limit?: string }).limit ?? 5000))),
  );

  app.get(
    '/v1/gallery/:id',
    { schema: { summary: 'One entry', params: { type: 'object', properties: { id: { type: 'string' } } }, response: { 200: { type: 'object', properties: { id: { type: 'string' }, label: { type: 'string' }, metadata: { type: 'object', additionalProperties: true }, thumbnail: { type: 'boolean' } } }, '4xx': errorSchema } } },
    async (request) => {
      const item = await gallery.get((request.params as { id: string }).id);
      if (item === undefined) throw new ServiceError(404, 'not_found', `no entry ${(request.params as { id: string }).id}`);
      return { id: item.id, label: item.label, ...(item.metadata ? { metadata: item.metadata } : {}), thumbnail: item.thumbnail !== undefined };
    },
  );

  app.get('/v1/gallery/:id/thumbnail', { schema: { summary: "An entry's thumbnail (PNG)", params: { type: 'object', properties: { id: { type: 'string' } } } } }, async (request, reply) => {
    const item = await gallery.get((request.params as { id: string }).id);
    if (item?.thumbnail === undefined) throw new ServiceError(404, 'not_found', `no thumbnail for ${(request.params as { id: string }).id}`);
    return reply.type('image/png').header('cache-control', 'max-age=3600').send(Buffer.from(item.thumbnail));
  });

  app.delete('/v1/gallery/:id', { preHandler: requireKey, schema: { summary: 'Remove an entry', params: { type: 'object', properties: { id: { type: 'string' } } }, response: { '4xx': errorSchema } } }, async (request, reply: FastifyReply) => {
    const { id } = request.params as { id: string };
    if (!(await gallery.remove(id))) throw new ServiceError(404, 'not_found', `no entry ${id}`);
    return reply.status(204).send();
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(await readFile(join(PAGE, 'index.html'))));
  app.get('/page/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params as { file: string };
    const type = PAGE_FILES[file];
    if (type === undefined) throw new ServiceError(404, 'not_found', `no page file ${file}`);
    return reply.type(`${type}; charset=utf-8`).send(await readFile(join(PAGE, file)));
  });

  return app;
}
