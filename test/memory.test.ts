import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/large-batch.js', import.meta.url));
const LIMIT_BYTES = 2 * 1024 ** 3;

/**
 * B = 2048, D = 128, 128 classes × 16: batch-all has 62 million valid triplets. Each case runs
 * in its own process so that its peak RSS is its own.
 */
describe('large batches fit in 2 GB peak RSS (B = 2048, D = 128, 128 classes × 16)', () => {
  for (const which of ['batch-all', 'batch-all-mined', 'semi-hard']) {
    it(which, (t) => {
      const output = execFileSync(process.execPath, [fixture, which, '128'], { encoding: 'utf8' });
      const result = JSON.parse(output.trim().split('\n').pop()!) as { tuples: number; finite: boolean; peakRssBytes: number; seconds: number };
      t.diagnostic(`${which}: ${result.tuples} tuples, peak RSS ${(result.peakRssBytes / 1024 ** 2).toFixed(0)} MiB`);
      assert.ok(result.finite, 'the gradient is finite');
      const expectedTuples = which === 'semi-hard' ? 2048 * 15 : undefined;
      if (expectedTuples !== undefined) assert.equal(result.tuples, expectedTuples);
      if (which === 'batch-all') assert.equal(result.tuples, 2048 * 15 * (2048 - 16));
      assert.ok(result.peakRssBytes < LIMIT_BYTES, `peak RSS ${result.peakRssBytes} bytes`);
    });
  }
});
