#!/usr/bin/env node
import pino from 'pino';
import { helpText, OptionsError, parseOptions } from './cli/options.ts';
import { runController } from './run.ts';

let options: ReturnType<typeof parseOptions>;
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (err) {
  if (err instanceof OptionsError) {
    console.error(`kvindex-controller: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
if (options.help) {
  console.log(helpText());
  process.exit(0);
}

const logger = pino({ level: options.logLevel });
const running = await runController(options, logger);
let stopping = false;

function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
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
void running.lostLeadership.then(() => {
  logger.error('lost leadership; exiting so a fresh process campaigns again');
  process.exit(1);
});
