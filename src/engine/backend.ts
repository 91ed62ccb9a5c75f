import { tf } from '../tf.js';
import { installWasmKernels } from './wasm-kernels.js';
import { installNativeKernels } from './native-kernels.js';
import { installGradients } from './gradients.js';
import { installAdamKernel } from './adam-kernel.js';
import { installL2NormalizeKernels } from './l2-normalize.js';
import { installClipGradient, installReluGradient } from './relu-gradient.js';
import { installBatchNormGradient } from './batch-norm-gradient.js';

/** Backends tripletjs knows how to start, fastest first. */
export type BackendName = 'wasm' | 'cpu';

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Backend to use; by default the fastest that starts (`wasm`, else `cpu`). */
  backend?: BackendName;
  /** Called once with a one-line description of the backend that is active. */
  announce?: (message: string) => void;
  /**
   * The native OpenBLAS kernels over wasm (src/engine/native-kernels.ts): `true` requires them
   * (throws when the addon cannot load), `false` keeps the wasm kernels. Default: used when the
   * addon loads, unless `TRIPLETJS_NATIVE=0` (`=1` requires them); either way announced.
   */
  native?: boolean;
}

let active: BackendName | undefined;

/**
 * Starts the TensorFlow.js backend tripletjs runs on and returns its name.
 *
 * tfjs silently falls back to `cpu` when wasm fails to initialise; this function checks the
 * backend that is really active and throws if it is not the one asked for, so a 40× slow-down
 * never goes unnoticed. With no backend asked for, a failed wasm start is announced, then `cpu`
 * is used.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendName> {
  const wanted = options.backend ?? (process.env.TRIPLETJS_BACKEND as BackendName | undefined);
  if (wanted !== undefined && wanted !== 'wasm' && wanted !== 'cpu') {
    throw new Error(`tripletjs: unknown backend '${String(wanted)}' (expected 'wasm' or 'cpu')`);
  }
  const order: BackendName[] = wanted ? [wanted] : ['wasm', 'cpu'];
  const failures: string[] = [];
  for (const name of order) {
    let started = false;
    try {
      started = await tf.setBackend(name);
      await tf.ready();
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
      continue;
    }
    if (!started || tf.getBackend() !== name) {
      failures.push(`${name}: did not start (active backend is '${tf.getBackend()}')`);
      continue;
    }
    installGradients();
    let detail = 'cpu (slow reference backend)';
    if (name === 'wasm') {
      installWasmKernels();
      installAdamKernel();
      installL2NormalizeKernels();
      installReluGradient();
      installClipGradient();
      installBatchNormGradient();
      const native = installNativeKernels(options.native);
      detail = `wasm (SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off'}${native.active ? ') + ' : ', own matmul kernel); '}${native.description}`;
    }
    active = name;
    const fallback = failures.length > 0 ? ` after a failed start of ${failures.join('; ')}` : '';
    options.announce?.(`tripletjs: TensorFlow.js backend ${detail}${fallback}`);
    return name;
  }
  throw new Error(`tripletjs: no TensorFlow.js backend could start (${failures.join('; ')})`);
}

/** The backend started by {@link initBackend}, or undefined before it ran. */
export function activeBackend(): BackendName | undefined {
  return active;
}
