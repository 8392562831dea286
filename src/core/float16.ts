/**
 * IEEE 754 binary16 (FP16) and bfloat16 (BF16) ⇄ JS number conversions, on the raw 16-bit patterns
 * that FP16/BF16 tensors carry (PROTOCOL.md §4).
 *
 * Invariants:
 * - Bits → number is exact (every FP16 and BF16 value is a double).
 * - Number → bits rounds the *double* once, to nearest with ties to even, with gradual underflow to
 *   subnormals and overflow to ±Infinity. Rounding once matters: going double → float32 → half would
 *   round twice and can be off by one ulp on halfway cases.
 * - Signs of zero and infinity are kept. NaN becomes the canonical quiet NaN (0x7e00 / 0x7fc0): a JS
 *   number cannot reliably carry a NaN payload or sign.
 */

interface Format16 {
  /** Number of stored mantissa bits. */
  readonly mantissaBits: number;
  /** Exponent of the smallest normal value (also the scale of the subnormals). */
  readonly minNormalExp: number;
  /** Exponent of the largest finite value. */
  readonly maxExp: number;
  /** Pattern of +Infinity (all exponent bits set, mantissa 0). */
  readonly infBits: number;
  readonly nanBits: number;
}

const FP16: Format16 = { mantissaBits: 10, minNormalExp: -14, maxExp: 15, infBits: 0x7c00, nanBits: 0x7e00 };
const BF16: Format16 = { mantissaBits: 7, minNormalExp: -126, maxExp: 127, infBits: 0x7f80, nanBits: 0x7fc0 };

/** POW2[e + POW2_BIAS] = 2^e, built by exact doubling/halving so no pow() rounding can creep in. */
const POW2_BIAS = 160;
const POW2 = new Float64Array(2 * POW2_BIAS + 1);
POW2[POW2_BIAS] = 1;
for (let e = 1; e <= POW2_BIAS; e++) POW2[POW2_BIAS + e] = POW2[POW2_BIAS + e - 1]! * 2;
for (let e = -1; e >= -POW2_BIAS; e--) POW2[POW2_BIAS + e] = POW2[POW2_BIAS + e + 1]! / 2;

function pow2(e: number): number {
  return POW2[e + POW2_BIAS]!;
}

/** Scratch for reading a double's exponent field; the high word is index 1 on a little-endian host. */
const scratch64 = new Float64Array(1);
const scratch64Words = new Uint32Array(scratch64.buffer);
const scratch32 = new Float32Array(1);
const scratch32Bits = new Uint32Array(scratch32.buffer);
const LOW_WORD_IS_FIRST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HIGH_WORD = LOW_WORD_IS_FIRST ? 1 : 0;

/** floor(log2(a)) for a finite a > 0, read from the exponent field (exact, unlike Math.log2). */
function binaryExponent(a: number): number {
  scratch64[0] = a;
  const field = (scratch64Words[HIGH_WORD]! >>> 20) & 0x7ff;
  // Double subnormals (field 0) lie far below every 16-bit format's range; callers clamp anyway.
  return field === 0 ? -1075 : field - 1023;
}

/** Rounds a non-negative double to an integer, ties to even. Exact for q < 2^52. */
function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const diff = q - f;
  return diff > 0.5 || (diff === 0.5 && f % 2 === 1) ? f + 1 : f;
}

function numberToBits(x: number, fmt: Format16): number {
  if (Number.isNaN(x)) return fmt.nanBits;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | fmt.infBits;
  if (a === 0) return sign;
  const exp = Math.max(binaryExponent(a), fmt.minNormalExp);
  if (exp > fmt.maxExp) return sign | fmt.infBits;
  // a / ulp is exact (division by a power of two); q lands in [0, 2^(m+1)], where 2^(m+1) means the
  // mantissa carried into the exponent, which the additive layout below handles for free — including
  // the carry from the largest subnormal to the smallest normal and from the largest finite to Inf.
  const q = roundHalfEven(a / pow2(exp - fmt.mantissaBits));
  const bits = (exp - fmt.minNormalExp) * (1 << fmt.mantissaBits) + q;
  return sign | Math.min(bits, fmt.infBits);
}

/** The exact value of an FP16 bit pattern (low 16 bits of `bits`). */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const field = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (field === 0) return sign * mantissa * pow2(-24);
  if (field === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (0x400 + mantissa) * pow2(field - 25);
}

/** FP16 bit pattern nearest to `x` (ties to even); overflow → ±Infinity, NaN → 0x7e00. */
export function numberToFloat16Bits(x: number): number {
  return numberToBits(x, FP16);
}

/** The exact value of a BF16 bit pattern: BF16 is the high half of a float32. */
export function bfloat16BitsToNumber(bits: number): number {
  scratch32Bits[0] = (bits & 0xffff) << 16;
  return scratch32[0]!;
}

/** BF16 bit pattern nearest to `x` (ties to even); overflow → ±Infinity, NaN → 0x7fc0. */
export function numberToBfloat16Bits(x: number): number {
  return numberToBits(x, BF16);
}
