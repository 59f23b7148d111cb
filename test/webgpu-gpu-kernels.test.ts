/**
 * The webgpu backend tests again, with the kernels meant for real GPUs (tiled matmul in
 * workgroup memory, one item per thread) forced on: on a software adapter (lavapipe, as in CI)
 * device-webgpu.test.ts exercises the kernels shaped for CPUs, so this covers the others.
 * Skipped, with the reason, where there is no adapter.
 */
process.env.TORCHLET_WEBGPU_KERNELS = 'gpu';
await import('./device-webgpu.test.js');
