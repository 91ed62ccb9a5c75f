export { PKSampler, type PKSamplerOptions } from './pk-sampler.js';
