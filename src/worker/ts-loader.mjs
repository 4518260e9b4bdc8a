/**
 * Makes a worker thread able to load the TypeScript sources: pass it as
 * `execArgv: ['--import', new URL('./ts-loader.mjs', import.meta.url).href]` when the worker
 * entry is `main.ts`. `--import tsx` is not enough on Node 20: tsx registers its loader hooks in
 * worker threads only on Node versions that have `isInternalThread` (22+), and Node 20 does not
 * share the main thread's hooks with workers ("Unknown file extension .ts"). A compiled build
 * needs neither.
 */
import { register } from 'tsx/esm/api'

register()
