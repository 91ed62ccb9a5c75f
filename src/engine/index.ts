export { initBackend, activeBackend, type BackendName, type InitBackendOptions } from './backend.js';
export { nativeKernelsActive, setNativeKernels, setNativeThreads, type NativeStatus } from './native-kernels.js';
export { l2Normalize } from './l2-normalize.js';
