#!/usr/bin/env node
import { helpText, OptionsError, parseOptions } from './cli/options.ts';

try {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (options.help) {
    console.log(helpText());
    process.exit(0);
  }
  console.error('kvindex-data-plane: the service is not built yet; see --help for the flags it will take');
  process.exit(1);
} catch (err) {
  if (err instanceof OptionsError) {
    console.error(`kvindex-data-plane: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
