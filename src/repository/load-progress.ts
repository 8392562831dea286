/**
 * Start-up progress for many models: instead of a line per model and instance, one line every
 * `intervalMs` while models load (settled/total, ready, failed so far, rate) and one summary at
 * the end. Failures are still logged one by one by the loader, with their reasons.
 */
import type { Logger } from 'pino';

export const PROGRESS_INTERVAL_MS = 2_000;

export class LoadProgress {
  readonly #log: Logger;
  readonly #total: number;
  readonly #startedMs = Date.now();
  readonly #timer: NodeJS.Timeout;
  #ready = 0;
  #failed = 0;

  constructor(log: Logger, total: number, intervalMs = PROGRESS_INTERVAL_MS) {
    this.#log = log;
    this.#total = total;
    this.#timer = setInterval(() => this.#report('loading models'), intervalMs);
    this.#timer.unref();
    log.info({ total }, `loading ${total} models`);
  }

  settled(ready: boolean): void {
    if (ready) this.#ready++;
    else this.#failed++;
  }

  /** Stops the periodic line and logs the summary. */
  done(): void {
    clearInterval(this.#timer);
    this.#report('models loaded');
  }

  #report(msg: string): void {
    const secs = (Date.now() - this.#startedMs) / 1000;
    const settled = this.#ready + this.#failed;
    const rate = secs > 0 ? Number((settled / secs).toFixed(1)) : settled;
    const fields = { settled, total: this.#total, ready: this.#ready, failed: this.#failed, modelsPerSec: rate, elapsedSecs: Number(secs.toFixed(1)) };
    this.#log.info(fields, `${msg}: ${settled}/${this.#total} (${this.#ready} ready, ${this.#failed} failed), ${rate} models/s`);
  }
}
