/**
 * prometheus (kong/plugins/prometheus/handler.lua, PRIORITY 13): the worker side. The handler
 * lives beside the per-request recorder it feeds (worker/metrics-recorder.ts): `prepare` turns an
 * instance's config into its switches (flags.ts) once per snapshot, `log` records the request's
 * route series as those switches ask. The /metrics page is metrics/exposition.ts.
 */
export { prometheusHandler as handler } from '../../worker/metrics-recorder.ts'
