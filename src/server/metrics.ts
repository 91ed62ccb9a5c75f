import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The service's Prometheus metrics, in a registry of their own (so that several services can run in one process). */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'tripletjs_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'tripletjs_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly shed = new Counter({ name: 'tripletjs_http_shed_total', help: 'Requests refused with 503 because too many were in flight', registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'tripletjs_inference_batch_size', help: 'Images per model call', buckets: [1, 2, 4, 8, 16, 32, 64], registers: [this.registry] });

  constructor(gallerySize: () => Promise<number>) {
    new Gauge({
      name: 'tripletjs_gallery_entries',
      help: 'Entries in the gallery',
      registers: [this.registry],
      async collect() {
        this.set(await gallerySize());
      },
    });
  }
}
