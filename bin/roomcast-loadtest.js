#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, like the service's bin.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../loadtest/index.ts');
process.exitCode = await main(process.argv.slice(2));
