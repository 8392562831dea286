#!/usr/bin/env node
/**
 * Process entry: command line (cli.ts) → InferenceServer → signals.
 *
 * The first SIGINT/SIGTERM drains and exits 0. One signal often arrives twice: `npm start` forwards
 * the SIGTERM it gets, and a signal to the whole process group reaches both npm and the server. So
 * a repeat within DUPLICATE_SIGNAL_MS is the same request; a later one means "stop now" (exit 1).
 */
import { CommanderError } from 'commander';
import { InferenceServer } from './server.js';
import { pino } from 'pino';
import { initialLogSettings, logLevel } from './config/server-options.js';
import { createLogger } from './observability/logger.js';
import { LogSettings } from './observability/log-settings.js';
import { parseCommandLine } from './cli.js';

const DUPLICATE_SIGNAL_MS = 1000;

async function main(argv: string[]): Promise<void> {
  const options = parseCommandLine(argv);
  const settings = new LogSettings(initialLogSettings(options));
  const destination = options.logFile === '' ? undefined : pino.destination({ dest: options.logFile, mkdir: true, sync: true });
  const log = createLogger({ level: logLevel(options), pretty: options.logPretty, settings, ...(destination ? { destination } : {}) });
  const server = await InferenceServer.open(options, log);
  let firstSignalAt: number | undefined;
  const onSignal = (sig: string) => {
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
      log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(1);
    }
    firstSignalAt = Date.now();
    log.info({ signal: sig }, 'shutting down');
    server.stop().then(() => process.exit(0), (e: unknown) => {
      log.error({ err: e }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // Listen first: health and RepositoryIndex answer while the models load (not ready yet).
  const ports = await server.start();
  await server.loadModels();
  // The line supervisors and scripts wait for: listening, and every model settled (READY or not).
  const unavailable = server.service.repositoryIndex(false).filter((m) => m.state !== 'READY');
  log.info({ ...ports, ready: unavailable.length === 0, unavailable }, 'startup complete');
}

main(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // --help and --version print to stdout and exit 0; usage errors print the reason.
    if (e.exitCode === 0) process.exit(0);
    process.stderr.write(`${e.message}\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`infera: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
