/**
 * The pure parts of edge.ts: nginx's Host validation (Kong's nginx 1.27), Content-Length parsing,
 * method syntax, absolute-form targets and the settings derived from the configuration.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '../config/load.ts'
import { buildEdgeSettings, canonicalLength, splitAbsoluteForm, validHost, validMethod } from './edge.ts'

test('validHost follows ngx_http_validate_host', () => {
  for (const h of ['t', 'example.com', 'example.com.', 'a-b.c_d', 'EXAMPLE.com:8000', '127.0.0.1:80', '[::1]', '[::1]:8000', 'a:', 'xn--bcher-kva.example']) {
    assert.equal(validHost(h), true, h)
  }
  for (const h of ['', '.', ':80', 'a..b', 'a/b', 'a\\b', 'a b', 'a\tb', 'a\x7fb', '..']) {
    assert.equal(validHost(h), false, JSON.stringify(h))
  }
  // The one-entry cache answers the same for a repeat.
  assert.equal(validHost('a..b'), false)
  assert.equal(validHost('a..b'), false)
  assert.equal(validHost('ok'), true)
})

test('canonicalLength: 1*DIGIT, up to 2^53 - 1, leading zeros dropped', () => {
  assert.equal(canonicalLength('0'), '0')
  assert.equal(canonicalLength('000'), '0')
  assert.equal(canonicalLength('005'), '5')
  assert.equal(canonicalLength('9007199254740991'), '9007199254740991')
  assert.equal(canonicalLength('0009007199254740991'), '9007199254740991')
  assert.equal(canonicalLength('9007199254740992'), null)
  assert.equal(canonicalLength('99999999999999999999'), null)
  for (const v of ['', '+1', '-1', '1 ', ' 1', '1,1', '0x10', '1e3', '١']) assert.equal(canonicalLength(v), null, JSON.stringify(v))
})

test('validMethod: nginx takes [A-Z_-]+', () => {
  for (const m of ['GET', 'PURGE', 'M-SEARCH', 'VERSION_CONTROL', 'PROPFIND']) assert.equal(validMethod(m), true, m)
  for (const m of ['', 'get', 'G@T', 'GET1', 'GE T']) assert.equal(validMethod(m), false, m)
})

test('splitAbsoluteForm: the authority replaces Host', () => {
  assert.deepEqual(splitAbsoluteForm('http://example.com/a/b'), { host: 'example.com', path: '/a/b' })
  assert.deepEqual(splitAbsoluteForm('HTTPS://example.com:8443'), { host: 'example.com:8443', path: '/' })
  assert.deepEqual(splitAbsoluteForm('http://[::1]:80/x'), { host: '[::1]:80', path: '/x' })
  for (const t of ['*', 'example.com:443', 'ftp://a/b', 'http://user@a/b', 'http:///x', '//a/b']) assert.equal(splitAbsoluteForm(t), null, t)
})

test('edge settings come from Kong\'s keys', () => {
  const d = buildEdgeSettings(loadConfig({ env: {} }))
  assert.deepEqual({ ...d, maxInflight: d.maxInflight >= 1024 && d.maxInflight <= 16384 }, {
    lineMax: 8192, fieldMax: 8192, headMax: 32768, maxReqHeaders: 100, maxInflight: true, bodyTimeoutMs: 60000, maxBody: 0,
  })
  const c = buildEdgeSettings(loadConfig({
    env: {},
    overrides: { large_client_header_buffers: '2 1k', lua_max_req_headers: '10', nginx_events_worker_connections: '20', client_body_timeout: '1500', client_max_body_size: '1m' },
  }))
  assert.deepEqual(c, { lineMax: 1024, fieldMax: 1024, headMax: 2048, maxReqHeaders: 10, maxInflight: 20, bodyTimeoutMs: 1500, maxBody: 1024 * 1024 })
  assert.throws(() => loadConfig({ env: {}, overrides: { nginx_events_worker_connections: 'lots' } }), /nginx_events_worker_connections/)
  assert.throws(() => loadConfig({ env: {}, overrides: { lua_max_req_headers: '1001' } }), /lua_max_req_headers/)
})
