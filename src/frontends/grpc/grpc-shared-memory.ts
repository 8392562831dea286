/** Core shared-memory region lists → the gRPC status messages' `map<string, RegionStatus>` (PROTOCOL.md §2.7). */
import type { SystemSharedMemoryStatusResponse } from '../../generated/inference/SystemSharedMemoryStatusResponse.js';
import type { CudaSharedMemoryStatusResponse } from '../../generated/inference/CudaSharedMemoryStatusResponse.js';
import type { SystemShmRegion } from '../../core/shared-memory/system-shm-registry.js';
import type { CudaShmRegion } from '../../core/shared-memory/cuda-shm-registry.js';

export function systemShmStatus(regions: readonly SystemShmRegion[]): NonNullable<SystemSharedMemoryStatusResponse['regions']> {
  return Object.fromEntries(regions.map((r) => [r.name, { name: r.name, key: r.key, offset: r.offset, byte_size: r.byteSize }]));
}

export function cudaShmStatus(regions: readonly CudaShmRegion[]): NonNullable<CudaSharedMemoryStatusResponse['regions']> {
  return Object.fromEntries(regions.map((r) => [r.name, { name: r.name, device_id: r.deviceId, byte_size: r.byteSize }]));
}
