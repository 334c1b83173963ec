#!/usr/bin/env node
import pino from 'pino';
import { helpText, OptionsError, parseOptions } from './cli/options.ts';
import { demoBanner, runDataPlane, StartupError } from './run.ts';

let options: ReturnType<typeof parseOptions>;
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (err) {
  if (err instanceof OptionsError) {
    console.error(`kvindex-data-plane: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
if (options.help) {
  console.log(helpText());
  process.exit(0);
}

const logger = pino({ level: options.logLevel });
const startup = new AbortController();
let running: Awaited<ReturnType<typeof runDataPlane>> | undefined;
let stopping = false;

function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  startup.abort();
  if (!running) return; // start-up notices the abort and exits below
  // A stuck socket must not keep the process alive forever.
  setTimeout(() => process.exit(1), 10_000).unref();
  running.close().then(
    () => process.exit(0),
    (err: Error) => {
      logger.error({ err: err.message }, 'shutdown failed');
      process.exit(1);
    },
  );
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

try {
  running = await runDataPlane(options, logger, startup.signal);
  if (stopping) {
    stopping = false;
    stop('SIGTERM');
  } else if (running.demo) {
    process.stdout.write(`${demoBanner(running.url, running.demo)}\n`);
  }
} catch (err) {
  if (err instanceof StartupError) {
    logger.error(err.message);
    process.exit(stopping ? 0 : 2);
  }
  logger.fatal({ err }, 'start-up failed');
  process.exit(1);
}
