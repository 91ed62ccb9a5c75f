/**
 * The one TensorFlow.js instance tripletjs uses, re-exported so that users never mix two copies:
 * `tf` is tfjs-core (tensors, ops, optimisers), `tfl` is tfjs-layers (models).
 *
 * The lean packages are used (core, cpu, wasm, layers). tfjs-core's Node bundle registers no
 * gradients; tfjs-layers' bundle registers all of them into the shared global registry, so it is
 * imported here for that side effect as well as for models.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export { tf, tfl };
