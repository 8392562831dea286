/**
 * The package root (`import type { ... } from 'infera'`): the TypeScript backend's model contract.
 * The server itself is started through the `infera` binary; the client lives at `infera/client`.
 */
export type * from './backends/typescript/model-contract.js';
