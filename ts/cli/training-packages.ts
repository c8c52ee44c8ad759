/** The packages `ct-edge/train` needs beside ct-edge: optional peer dependencies, so deploy-only installs skip them. */
export const TRAINING_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'] as const;
