/**
 * Lets a worker thread load TypeScript (bare-proxy.ts runs its workers from its own .ts file):
 * Node 20 does not hand the main thread's tsx hooks to worker threads, so each worker registers
 * them itself (`execArgv: ['--import', <this file's URL>]`), as src/worker/ts-loader.mjs does.
 */
import { register } from 'tsx/esm/api'

register()
