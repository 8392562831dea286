/**
 * Datatype and shape agreement of an ensemble tensor across everyone that declares it (the
 * ensemble's own input/output and the step models' inputs/outputs it is mapped to).
 *
 * Shapes are compared as the full request shape: a batching declaration (max_batch_size > 0)
 * contributes [-1, ...dims], so a non-batching ensemble can feed a batching model a tensor whose
 * first dimension becomes the batch. -1 on either side matches any size; ranks must be equal.
 * A side that leaves data_type or dims unset is not compared on that property.
 */
import type { DataType } from '../config/model-config.js';

export interface TensorDeclaration {
  readonly tensor: string;
  /** e.g. "step 1 (model 'm') input 'X'" or "ensemble output 'Y'". */
  readonly where: string;
  readonly dataType: DataType | undefined;
  readonly dims: readonly number[] | undefined;
  /** The declaring model batches: its shapes carry an implicit leading batch dimension. */
  readonly batching: boolean;
  /** A producer (ensemble input, step output) rather than a consumer. */
  readonly produces?: boolean;
}

/** Reports one problem per declaration that disagrees with the tensor's producer. */
export function checkTensorAgreement(decls: readonly TensorDeclaration[], report: (m: string) => void): void {
  const byTensor = new Map<string, TensorDeclaration[]>();
  for (const d of decls) {
    const list = byTensor.get(d.tensor) ?? [];
    list.push(d);
    byTensor.set(d.tensor, list);
  }
  for (const [tensor, list] of byTensor) {
    const ref = list.find((d) => d.produces === true) ?? list[0]!;
    for (const d of list) {
      if (d === ref) continue;
      if (typed(ref.dataType) && typed(d.dataType) && ref.dataType !== d.dataType) {
        report(`tensor '${tensor}' has datatype ${ref.dataType} at ${ref.where} but ${d.dataType} at ${d.where}`);
      }
      const a = fullShape(ref);
      const b = fullShape(d);
      if (a !== undefined && b !== undefined && !shapesAgree(a, b)) {
        report(`tensor '${tensor}' has shape [${a.join(',')}] at ${ref.where} but [${b.join(',')}] at ${d.where}`);
      }
    }
  }
}

function typed(t: DataType | undefined): t is DataType {
  return t !== undefined && t !== 'TYPE_INVALID';
}

function fullShape(d: TensorDeclaration): number[] | undefined {
  if (d.dims === undefined || d.dims.length === 0) return undefined;
  return d.batching ? [-1, ...d.dims] : [...d.dims];
}

/** Same rank, and each dimension equal or -1 on either side. */
export function shapesAgree(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === -1 || b[i] === -1 || d === b[i]);
}
