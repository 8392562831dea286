#!/usr/bin/env node
/**
 * Process entry: command line (cli.ts) → InferenceServer → signals.
 */
import { CommanderError } from 'commander';
import { InferenceServer } from './server.js';
import { logLevel } from './config/server-options.js';
import { createLogger } from './observability/logger.js';
import { parseCommandLine } from './cli.js';

async function main(argv: string[]): Promise<void> {
  const options = parseCommandLine(argv);
  const log = createLogger({ level: logLevel(options), pretty: options.logPretty });
  const server = await InferenceServer.open(options, log);
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) {
      log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal: sig }, 'shutting down');
    server.stop().then(() => process.exit(0), (e: unknown) => {
      log.error({ err: e }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // Listen first: health and RepositoryIndex answer while the models load (not ready yet).
  await server.start();
  await server.loadModels();
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
