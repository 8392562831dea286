// Stands in for @tensorflow/tfjs-node in tests (libtensorflow cannot be installed here): like the
// real package, importing it registers a tfjs backend named "tensorflow" (here with the cpu kernels).
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

tf.registerBackend('tensorflow', () => new MathBackendCPU(), 0);
for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
