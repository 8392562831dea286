/**
 * Triton's `cuda_shared_memory` extension on a server without CUDA: nothing can be registered, so
 * status lists no regions and unregister (one or all) succeeds, as Triton answers with an empty
 * table; register fails with UNSUPPORTED and says why. Infera opens no CUDA IPC handles (there is
 * no CUDA runtime in a Node process here), so ServerMetadata does not list the extension.
 */
import { ErrorCode } from '../../errors/error-codes.js';
import { errors } from '../../errors/catalogue.js';
import { InferenceError } from '../../errors/inference-error.js';

export interface CudaShmRegion {
  readonly name: string;
  readonly deviceId: number;
  readonly byteSize: number;
}

export class CudaSharedMemoryRegistry {
  /** `isSystemRegion` tells a system region's name apart (one namespace, Triton's messages). */
  readonly #isSystemRegion: (name: string) => boolean;

  constructor(isSystemRegion: (name: string) => boolean) {
    this.#isSystemRegion = isSystemRegion;
  }

  register(name: string): never {
    throw errors.unsupported(
      `failed to register CUDA shared memory region '${name}': CUDA shared memory is not supported by this server (Infera has no CUDA runtime); use system shared memory instead`,
    );
  }

  status(name = ''): CudaShmRegion[] {
    if (name === '') return [];
    if (this.#isSystemRegion(name)) {
      throw new InferenceError(ErrorCode.NOT_FOUND, `The region named '${name}' is registered as system shared memory, not CUDA shared memory`);
    }
    throw new InferenceError(ErrorCode.NOT_FOUND, `Unable to find cuda shared memory region: '${name}'`);
  }

  /** Nothing is ever registered: success for one name or all. */
  unregister(_name = ''): void {
    // no CUDA regions exist
  }
}
