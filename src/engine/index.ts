export { initBackend, activeBackend, type BackendName, type InitBackendOptions } from './backend.js';
