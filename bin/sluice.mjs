#!/usr/bin/env node
// Entry of the `sluice` command: loads the TypeScript sources through tsx (worker threads get the
// same loader through their execArgv), then runs the CLI.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/main.ts')
await main(process.argv.slice(2))
