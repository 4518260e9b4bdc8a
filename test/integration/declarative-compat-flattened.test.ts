/**
 * Kong's `Admin API #off /config [flattened errors]` cases (spec/02-integration/04-admin_api/15-off_spec.lua),
 * their inputs and expected entries taken from the spec's Lua tables, posted to a real DB-less
 * node with `?flatten_errors=1` and compared the way the spec compares them: entries matched by
 * their first tag, ids compared only where the expectation gives one, foreign keys `{id}` not
 * required in the expectation, errors in any order. One message differs by nature: OpenSSL's
 * wording of a corrupt certificate (Kong's build and Node's word it differently), compared by its
 * `invalid certificate: ` prefix.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import { startDblessGateway, type DblessGateway } from '../helpers/dbless.ts'

interface Case { name: string; path: string; body: Record<string, unknown>; expected: any[] }

const CASES: Case[] = [
 {
  "name": "sanity",
  "path": "/config?flatten_errors=1",
  "body": {
   "_format_version": "3.0",
   "certificates": [
    {
     "cert": "-----BEGIN CERTIFICATE-----\nMIICIzCCAYSgAwIBAgIUUMiD8e3GDZ+vs7XBmdXzMxARUrgwCgYIKoZIzj0EAwIw\nIzENMAsGA1UECgwES29uZzESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTIyMTIzMDA0\nMDcwOFoXDTQyMTIyNTA0MDcwOFowIzENMAsGA1UECgwES29uZzESMBAGA1UEAwwJ\nbG9jYWxob3N0MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBxSldGzzRAtjt825q\nUwl+BNgxecswnvbQFLiUDqJjVjCfs/B53xQfV97ddxsRymES2viC2kjAm1Ete4TH\nCQmVltUBItHzI77HB+UsfqHoUdjl3lC/HC1yDSPBp5wd9eRRSagdl0eiJwnB9lof\nMEnmOQLg177trb/YPz1vcCCZj7ikhzCjUzBRMB0GA1UdDgQWBBSUI6+CKqKFz/Te\nZJppMNl/Dh6d9DAfBgNVHSMEGDAWgBSUI6+CKqKFz/TeZJppMNl/Dh6d9DAPBgNV\nHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA4GMADCBiAJCAZL3qX21MnGtQcl9yOMr\nhNR54VrDKgqLR+ChU7/358n/sK/sVOjmrwVyQ52oUyqaQlfBQS2EufQVO/01+2sx\n86gzAkIB/4Ilf4RluN2/gqHYlVEDRZzsqbwVJBHLeNKsZBSJkhNNpJBwa2Ndl9/i\nu2tDk0KZFSAvRnqRAo9iDBUkIUI1ahA=\n-----END CERTIFICATE-----",
     "key": "-----BEGIN EC PRIVATE KEY-----\nMIHcAgEBBEIARPKnAYLB54bxBvkDfqV4NfZ+Mxl79rlaYRB6vbWVwFpy+E2pSZBR\ndoCy1tHAB/uPo+QJyjIK82Zwa3Kq0i1D2QigBwYFK4EEACOhgYkDgYYABAHFKV0b\nPNEC2O3zbmpTCX4E2DF5yzCe9tAUuJQOomNWMJ+z8HnfFB9X3t13GxHKYRLa+ILa\nSMCbUS17hMcJCZWW1QEi0fMjvscH5Sx+oehR2OXeUL8cLXINI8GnnB315FFJqB2X\nR6InCcH2Wh8wSeY5AuDXvu2tv9g/PW9wIJmPuKSHMA==\n-----END EC PRIVATE KEY-----",
     "tags": [
      "certificate-01"
     ]
    },
    {
     "cert": "-----BEGIN CERTIFICATE-----\nMIICIzCCAYSgAwIBAgIUUMiD8e3GDZ+vs7XBmdXzMxARUrgwCgYIKoZIzj0EAwIw\nIzENMAsGA1UECgwES29uZzESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTIyMTIzMDA0\nMDcwOFoXDTQyohnoooooooooooooooooooooooooooooooooooooooooooasdfa\nUwl+BNgxecswnvbQFLiUDqJjVjCfs/B53xQfV97ddxsRymES2viC2kjAm1Ete4TH\nCQmVltUBItHzI77AAAAAAAAAAAAAAAC/HC1yDSBBBBBBBBBBBBBdl0eiJwnB9lof\nMEnmOQLg177trb/AAAAAAAAAAAAAAACjUzBRMBBBBBBBBBBBBBBUI6+CKqKFz/Te\nZJppMNl/Dh6d9DAAAAAAAAAAAAAAAASUI6+CKqBBBBBBBBBBBBB/Dh6d9DAPBgNV\nHRMBAf8EBTADAQHAAAAAAAAAAAAAAAMCA4GMADBBBBBBBBBBBBB1MnGtQcl9yOMr\nhNR54VrDKgqLR+CAAAAAAAAAAAAAAAjmrwVyQ5BBBBBBBBBBBBBEufQVO/01+2sx\n86gzAkIB/4Ilf4RluN2/gqHYlVEDRZzsqbwVJBHLeNKsZBSJkhNNpJBwa2Ndl9/i\nu2tDk0KZFSAvRnqRAo9iDBUkIUI1ahA=\n-----END CERTIFICATE-----",
     "key": "-----BEGIN EC PRIVATE KEY-----\nMIHcAgEBBEIARPKnAYLB54bxBvkDfqV4NfZ+Mxl79rlaYRB6vbWVwFpy+E2pSZBR\ndoCy1tHAB/uPo+QJyjIK82Zwa3Kq0i1D2QigBwYFK4EEACOhgYkDgYYABAHFKV0b\nPNEC2O3zbmpTCX4E2DF5yzCe9tAUuJQOomNWMJ+z8HnfFB9X3t13GxHKYRLa+ILa\nSMCbUS17hMcJCZWW1QEi0fMjvscH5Sx+oehR2OXeUL8cLXINI8GnnB315FFJqB2X\nR6InCcH2Wh8wSeY5AuDXvu2tv9g/PW9wIJmPuKSHMA==\n-----END EC PRIVATE KEY-----",
     "tags": [
      "certificate-02"
     ]
    }
   ],
   "consumers": [
    {
     "tags": [
      "consumer-01"
     ],
     "username": "valid_user"
    },
    {
     "not_allowed": true,
     "tags": [
      "consumer-02"
     ],
     "username": "bobby_in_json_body"
    },
    {
     "tags": [
      "consumer-03"
     ],
     "username": "super_valid_user"
    },
    {
     "basicauth_credentials": [
      {
       "password": "hard2guess",
       "tags": [
        "basicauth_credentials-01",
        "consumer-04"
       ],
       "username": "superduper"
      },
      {
       "extra_field": "NO!",
       "password": "12354",
       "tags": [
        "basicauth_credentials-02",
        "consumer-04"
       ],
       "username": "dont-add-extra-fields-yo"
      }
     ],
     "tags": [
      "consumer-04"
     ],
     "username": "credentials"
    }
   ],
   "plugins": [
    {
     "config": {
      "http_endpoint": "invalid::#//url"
     },
     "name": "http-log",
     "tags": [
      "global_plugin-01"
     ]
    }
   ],
   "services": [
    {
     "host": "localhost",
     "name": "nope",
     "port": 1234,
     "protocol": "nope",
     "routes": [
      {
       "hosts": [
        "test"
       ],
       "methods": [
        "GET"
       ],
       "name": "valid.route",
       "protocols": [
        "http",
        "https"
       ],
       "tags": [
        "route_service-01",
        "service-01"
       ]
      },
      {
       "name": "nope.route",
       "protocols": [
        "tcp"
       ],
       "tags": [
        "route_service-02",
        "service-01"
       ]
      }
     ],
     "tags": [
      "service-01"
     ]
    },
    {
     "host": "localhost",
     "name": "mis-matched",
     "path": "/path",
     "protocol": "tcp",
     "routes": [
      {
       "hosts": [
        "test"
       ],
       "methods": [
        "GET"
       ],
       "name": "invalid",
       "protocols": [
        "http",
        "https"
       ],
       "tags": [
        "route_service-03",
        "service-02"
       ]
      }
     ],
     "tags": [
      "service-02"
     ]
    },
    {
     "name": "okay",
     "routes": [
      {
       "hosts": [
        "test"
       ],
       "methods": [
        "GET"
       ],
       "name": "probably-valid",
       "plugins": [
        {
         "config": {
          "not_endpoint": "anything"
         },
         "name": "http-log",
         "tags": [
          "route_service_plugin-01",
          "route_service-04",
          "service-03"
         ]
        }
       ],
       "protocols": [
        "http",
        "https"
       ],
       "tags": [
        "route_service-04",
        "service-03"
       ]
      }
     ],
     "tags": [
      "service-03"
     ],
     "url": "http://localhost:1234"
    },
    {
     "name": "bad-service-plugins",
     "plugins": [
      {
       "config": {},
       "name": "i-dont-exist",
       "tags": [
        "service_plugin-01",
        "service-04"
       ]
      },
      {
       "config": {
        "deeply": {
         "nested": {
          "undefined": true
         }
        },
        "port": 1234
       },
       "name": "tcp-log",
       "tags": [
        "service_plugin-02",
        "service-04"
       ]
      }
     ],
     "tags": [
      "service-04"
     ],
     "url": "http://localhost:1234"
    },
    {
     "client_certificate": {
      "cert": "",
      "key": "",
      "tags": [
       "service_client_certificate-01",
       "service-05"
      ]
     },
     "name": "bad-client-cert",
     "tags": [
      "service-05"
     ],
     "url": "https://localhost:1234"
    },
    {
     "id": 123456,
     "name": "invalid-id",
     "tags": [
      "service-06",
      "invalid-id"
     ],
     "url": "https://localhost:1234"
    },
    {
     "name": "invalid-tags",
     "tags": [
      "service-07",
      "invalid-tags",
      [
       1,
       2,
       3
      ],
      true
     ],
     "url": "https://localhost:1234"
    },
    {
     "name": "",
     "tags": [
      "service-08",
      "invalid_service_name-01"
     ],
     "url": "https://localhost:1234"
    },
    {
     "name": 1234,
     "tags": [
      "service-09",
      "invalid_service_name-02"
     ],
     "url": "https://localhost:1234"
    }
   ],
   "upstreams": [
    {
     "hash_on": "ip",
     "name": "ok",
     "tags": [
      "upstream-01"
     ]
    },
    {
     "hash_on": "ip",
     "healthchecks": {
      "active": {
       "concurrency": -1,
       "healthy": {
        "interval": 0,
        "successes": 0
       },
       "http_path": "/",
       "https_sni": "example.com",
       "https_verify_certificate": true,
       "timeout": 1,
       "type": "http",
       "unhealthy": {
        "http_failures": 0,
        "interval": 0
       }
      }
     },
     "host_header": 123,
     "name": "bad",
     "tags": [
      "upstream-02"
     ]
    },
    {
     "name": "ok-bad-targets",
     "tags": [
      "upstream-03"
     ],
     "targets": [
      {
       "tags": [
        "upstream_target-01",
        "upstream-03"
       ],
       "target": "127.0.0.1:99"
      },
      {
       "tags": [
        "upstream_target-02",
        "upstream-03"
       ],
       "target": "hostname:1.0"
      }
     ]
    }
   ],
   "vaults": [
    {
     "config": {
      "prefix": "SSL_"
     },
     "name": "env",
     "prefix": "test",
     "tags": [
      "vault-01"
     ]
    },
    {
     "config": {
      "prefix": "SSL_"
     },
     "name": "vault-not-installed",
     "prefix": "env",
     "tags": [
      "vault-02",
      "vault-not-installed"
     ]
    }
   ]
  },
  "expected": [
   {
    "entity": {
     "tags": [
      "upstream_target-02",
      "upstream-03"
     ],
     "target": "hostname:1.0"
    },
    "entity_tags": [
     "upstream_target-02",
     "upstream-03"
    ],
    "entity_type": "target",
    "errors": [
     {
      "field": "target",
      "message": "Invalid target ('hostname:1.0'); not a valid hostname or ip address",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "cert": "",
     "key": "",
     "tags": [
      "service_client_certificate-01",
      "service-05"
     ]
    },
    "entity_tags": [
     "service_client_certificate-01",
     "service-05"
    ],
    "entity_type": "certificate",
    "errors": [
     {
      "field": "key",
      "message": "length must be at least 1",
      "type": "field"
     },
     {
      "field": "cert",
      "message": "length must be at least 1",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "config": {
      "deeply": {
       "nested": {
        "undefined": true
       }
      },
      "port": 1234
     },
     "name": "tcp-log",
     "tags": [
      "service_plugin-02",
      "service-04"
     ]
    },
    "entity_name": "tcp-log",
    "entity_tags": [
     "service_plugin-02",
     "service-04"
    ],
    "entity_type": "plugin",
    "errors": [
     {
      "field": "config.deeply",
      "message": "unknown field",
      "type": "field"
     },
     {
      "field": "config.host",
      "message": "required field missing",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "config": {},
     "name": "i-dont-exist",
     "tags": [
      "service_plugin-01",
      "service-04"
     ]
    },
    "entity_name": "i-dont-exist",
    "entity_tags": [
     "service_plugin-01",
     "service-04"
    ],
    "entity_type": "plugin",
    "errors": [
     {
      "field": "name",
      "message": "plugin 'i-dont-exist' not enabled; add it to the 'plugins' configuration property",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "config": {
      "not_endpoint": "anything"
     },
     "name": "http-log",
     "tags": [
      "route_service_plugin-01",
      "route_service-04",
      "service-03"
     ]
    },
    "entity_name": "http-log",
    "entity_tags": [
     "route_service_plugin-01",
     "route_service-04",
     "service-03"
    ],
    "entity_type": "plugin",
    "errors": [
     {
      "field": "config.not_endpoint",
      "message": "unknown field",
      "type": "field"
     },
     {
      "field": "config.http_endpoint",
      "message": "required field missing",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "host": "localhost",
     "name": "mis-matched",
     "path": "/path",
     "protocol": "tcp",
     "tags": [
      "service-02"
     ]
    },
    "entity_name": "mis-matched",
    "entity_tags": [
     "service-02"
    ],
    "entity_type": "service",
    "errors": [
     {
      "field": "path",
      "message": "value must be null",
      "type": "field"
     },
     {
      "message": "failed conditional validation given value of field 'protocol'",
      "type": "entity"
     }
    ]
   },
   {
    "entity": {
     "host": "localhost",
     "name": "nope",
     "port": 1234,
     "protocol": "nope",
     "tags": [
      "service-01"
     ]
    },
    "entity_name": "nope",
    "entity_tags": [
     "service-01"
    ],
    "entity_type": "service",
    "errors": [
     {
      "field": "protocol",
      "message": "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "name": "nope.route",
     "protocols": [
      "tcp"
     ],
     "tags": [
      "route_service-02",
      "service-01"
     ]
    },
    "entity_name": "nope.route",
    "entity_tags": [
     "route_service-02",
     "service-01"
    ],
    "entity_type": "route",
    "errors": [
     {
      "message": "must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls' or 'udp'",
      "type": "entity"
     }
    ]
   },
   {
    "entity": {
     "not_allowed": true,
     "tags": [
      "consumer-02"
     ],
     "username": "bobby_in_json_body"
    },
    "entity_tags": [
     "consumer-02"
    ],
    "entity_type": "consumer",
    "errors": [
     {
      "field": "not_allowed",
      "message": "unknown field",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "config": {
      "http_endpoint": "invalid::#//url"
     },
     "name": "http-log",
     "tags": [
      "global_plugin-01"
     ]
    },
    "entity_name": "http-log",
    "entity_tags": [
     "global_plugin-01"
    ],
    "entity_type": "plugin",
    "errors": [
     {
      "field": "config.http_endpoint",
      "message": "missing host in url",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "hash_on": "ip",
     "healthchecks": {
      "active": {
       "concurrency": -1,
       "healthy": {
        "interval": 0,
        "successes": 0
       },
       "http_path": "/",
       "https_sni": "example.com",
       "https_verify_certificate": true,
       "timeout": 1,
       "type": "http",
       "unhealthy": {
        "http_failures": 0,
        "interval": 0
       }
      }
     },
     "host_header": 123,
     "name": "bad",
     "tags": [
      "upstream-02"
     ]
    },
    "entity_name": "bad",
    "entity_tags": [
     "upstream-02"
    ],
    "entity_type": "upstream",
    "errors": [
     {
      "field": "host_header",
      "message": "expected a string",
      "type": "field"
     },
     {
      "field": "healthchecks.active.concurrency",
      "message": "value should be between 1 and 2147483648",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "cert": "-----BEGIN CERTIFICATE-----\nMIICIzCCAYSgAwIBAgIUUMiD8e3GDZ+vs7XBmdXzMxARUrgwCgYIKoZIzj0EAwIw\nIzENMAsGA1UECgwES29uZzESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTIyMTIzMDA0\nMDcwOFoXDTQyohnoooooooooooooooooooooooooooooooooooooooooooasdfa\nUwl+BNgxecswnvbQFLiUDqJjVjCfs/B53xQfV97ddxsRymES2viC2kjAm1Ete4TH\nCQmVltUBItHzI77AAAAAAAAAAAAAAAC/HC1yDSBBBBBBBBBBBBBdl0eiJwnB9lof\nMEnmOQLg177trb/AAAAAAAAAAAAAAACjUzBRMBBBBBBBBBBBBBBUI6+CKqKFz/Te\nZJppMNl/Dh6d9DAAAAAAAAAAAAAAAASUI6+CKqBBBBBBBBBBBBB/Dh6d9DAPBgNV\nHRMBAf8EBTADAQHAAAAAAAAAAAAAAAMCA4GMADBBBBBBBBBBBBB1MnGtQcl9yOMr\nhNR54VrDKgqLR+CAAAAAAAAAAAAAAAjmrwVyQ5BBBBBBBBBBBBBEufQVO/01+2sx\n86gzAkIB/4Ilf4RluN2/gqHYlVEDRZzsqbwVJBHLeNKsZBSJkhNNpJBwa2Ndl9/i\nu2tDk0KZFSAvRnqRAo9iDBUkIUI1ahA=\n-----END CERTIFICATE-----",
     "key": "-----BEGIN EC PRIVATE KEY-----\nMIHcAgEBBEIARPKnAYLB54bxBvkDfqV4NfZ+Mxl79rlaYRB6vbWVwFpy+E2pSZBR\ndoCy1tHAB/uPo+QJyjIK82Zwa3Kq0i1D2QigBwYFK4EEACOhgYkDgYYABAHFKV0b\nPNEC2O3zbmpTCX4E2DF5yzCe9tAUuJQOomNWMJ+z8HnfFB9X3t13GxHKYRLa+ILa\nSMCbUS17hMcJCZWW1QEi0fMjvscH5Sx+oehR2OXeUL8cLXINI8GnnB315FFJqB2X\nR6InCcH2Wh8wSeY5AuDXvu2tv9g/PW9wIJmPuKSHMA==\n-----END EC PRIVATE KEY-----",
     "tags": [
      "certificate-02"
     ]
    },
    "entity_tags": [
     "certificate-02"
    ],
    "entity_type": "certificate",
    "errors": [
     {
      "field": "cert",
      "message": "invalid certificate: *",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "id": 123456,
     "name": "invalid-id",
     "tags": [
      "service-06",
      "invalid-id"
     ],
     "url": "https://localhost:1234"
    },
    "entity_id": null,
    "entity_name": "invalid-id",
    "entity_tags": [
     "service-06",
     "invalid-id"
    ],
    "entity_type": "service",
    "errors": [
     {
      "field": "id",
      "message": "expected a string",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "name": "invalid-tags",
     "tags": [
      "service-07",
      "invalid-tags",
      [
       1,
       2,
       3
      ],
      true
     ],
     "url": "https://localhost:1234"
    },
    "entity_name": "invalid-tags",
    "entity_type": "service",
    "errors": [
     {
      "field": "tags.3",
      "message": "expected a string",
      "type": "field"
     },
     {
      "field": "tags.4",
      "message": "expected a string",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "name": 1234,
     "tags": [
      "service-09",
      "invalid_service_name-02"
     ],
     "url": "https://localhost:1234"
    },
    "entity_tags": [
     "service-09",
     "invalid_service_name-02"
    ],
    "entity_type": "service",
    "errors": [
     {
      "field": "name",
      "message": "expected a string",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "name": "",
     "tags": [
      "service-08",
      "invalid_service_name-01"
     ],
     "url": "https://localhost:1234"
    },
    "entity_tags": [
     "service-08",
     "invalid_service_name-01"
    ],
    "entity_type": "service",
    "errors": [
     {
      "field": "name",
      "message": "length must be at least 1",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "config": {
      "prefix": "SSL_"
     },
     "name": "vault-not-installed",
     "prefix": "env",
     "tags": [
      "vault-02",
      "vault-not-installed"
     ]
    },
    "entity_name": "vault-not-installed",
    "entity_tags": [
     "vault-02",
     "vault-not-installed"
    ],
    "entity_type": "vault",
    "errors": [
     {
      "field": "name",
      "message": "vault 'vault-not-installed' is not installed",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "extra_field": "NO!",
     "password": "12354",
     "tags": [
      "basicauth_credentials-02",
      "consumer-04"
     ],
     "username": "dont-add-extra-fields-yo"
    },
    "entity_tags": [
     "basicauth_credentials-02",
     "consumer-04"
    ],
    "entity_type": "basicauth_credential",
    "errors": [
     {
      "field": "extra_field",
      "message": "unknown field",
      "type": "field"
     }
    ]
   }
  ]
 },
 {
  "name": "flattens nested, non-entity field errors",
  "path": "/config?flatten_errors=1",
  "body": {
   "_format_version": "3.0",
   "upstreams": [
    {
     "hash_on": "ip",
     "healthchecks": {
      "active": {
       "concurrency": -1,
       "healthy": {
        "interval": 0,
        "successes": 0
       },
       "http_path": "/",
       "https_sni": "example.com",
       "https_verify_certificate": true,
       "timeout": 1,
       "type": "http",
       "unhealthy": {
        "http_failures": 0,
        "interval": 0
       }
      }
     },
     "host_header": 123,
     "name": "bad",
     "tags": [
      "upstream-01"
     ]
    }
   ]
  },
  "expected": [
   {
    "entity": {
     "hash_on": "ip",
     "healthchecks": {
      "active": {
       "concurrency": -1,
       "healthy": {
        "interval": 0,
        "successes": 0
       },
       "http_path": "/",
       "https_sni": "example.com",
       "https_verify_certificate": true,
       "timeout": 1,
       "type": "http",
       "unhealthy": {
        "http_failures": 0,
        "interval": 0
       }
      }
     },
     "host_header": 123,
     "name": "bad",
     "tags": [
      "upstream-01"
     ]
    },
    "entity_name": "bad",
    "entity_tags": [
     "upstream-01"
    ],
    "entity_type": "upstream",
    "errors": [
     {
      "field": "healthchecks.active.concurrency",
      "message": "value should be between 1 and 2147483648",
      "type": "field"
     },
     {
      "field": "host_header",
      "message": "expected a string",
      "type": "field"
     }
    ]
   }
  ]
 },
 {
  "name": "flattens nested, entity field errors",
  "path": "/config?flatten_errors=1",
  "body": {
   "_format_version": "3.0",
   "services": [
    {
     "client_certificate": {
      "cert": "",
      "key": "",
      "tags": [
       "service_client_certificate-01",
       "service-01"
      ]
     },
     "name": "bad-client-cert",
     "plugins": [
      {
       "config": {},
       "name": "i-do-not-exist",
       "tags": [
        "service_plugin-01"
       ]
      }
     ],
     "routes": [
      {
       "hosts": [
        "test"
       ],
       "paths": [
        "/"
       ],
       "plugins": [
        {
         "config": {
          "a": {
           "b": {
            "c": "def"
           }
          }
         },
         "name": "http-log",
         "tags": [
          "route_service_plugin-01"
         ]
        }
       ],
       "protocols": [
        "http"
       ],
       "tags": [
        "service_route-01"
       ]
      },
      {
       "hosts": [
        "invalid"
       ],
       "paths": [
        "/"
       ],
       "protocols": [
        "nope"
       ],
       "tags": [
        "service_route-02"
       ]
      }
     ],
     "tags": [
      "service-01"
     ],
     "url": "https://localhost:1234"
    }
   ]
  },
  "expected": [
   {
    "entity": {
     "config": {},
     "name": "i-do-not-exist",
     "tags": [
      "service_plugin-01"
     ]
    },
    "entity_name": "i-do-not-exist",
    "entity_tags": [
     "service_plugin-01"
    ],
    "entity_type": "plugin",
    "errors": [
     {
      "field": "name",
      "message": "plugin 'i-do-not-exist' not enabled; add it to the 'plugins' configuration property",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "config": {
      "a": {
       "b": {
        "c": "def"
       }
      }
     },
     "name": "http-log",
     "tags": [
      "route_service_plugin-01"
     ]
    },
    "entity_name": "http-log",
    "entity_tags": [
     "route_service_plugin-01"
    ],
    "entity_type": "plugin",
    "errors": [
     {
      "field": "config.a",
      "message": "unknown field",
      "type": "field"
     },
     {
      "field": "config.http_endpoint",
      "message": "required field missing",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "hosts": [
      "invalid"
     ],
     "paths": [
      "/"
     ],
     "protocols": [
      "nope"
     ],
     "tags": [
      "service_route-02"
     ]
    },
    "entity_tags": [
     "service_route-02"
    ],
    "entity_type": "route",
    "errors": [
     {
      "field": "protocols",
      "message": "unknown type: nope",
      "type": "field"
     }
    ]
   },
   {
    "entity": {
     "cert": "",
     "key": "",
     "tags": [
      "service_client_certificate-01",
      "service-01"
     ]
    },
    "entity_tags": [
     "service_client_certificate-01",
     "service-01"
    ],
    "entity_type": "certificate",
    "errors": [
     {
      "field": "cert",
      "message": "length must be at least 1",
      "type": "field"
     },
     {
      "field": "key",
      "message": "length must be at least 1",
      "type": "field"
     }
    ]
   }
  ]
 },
 {
  "name": "correctly handles nested entity errors",
  "path": "/config?flatten_errors=1",
  "body": {
   "_format_version": "3.0",
   "consumers": [
    {
     "basicauth_credentials": [
      {
       "id": "089091f4-cb8b-48f5-8463-8319097be716",
       "password": "pwd",
       "tags": [
        "consumer-01-credential-01"
       ],
       "username": "user-01"
      },
      {
       "id": "b1443d61-ccd9-4359-b82a-f37515442295",
       "password": "pwd",
       "tags": [
        "consumer-01-credential-02"
       ],
       "username": "user-11"
      },
      {
       "id": "2603d010-edbe-4713-94ef-145e281cbf4c",
       "password": "pwd",
       "tags": [
        "consumer-01-credential-03"
       ],
       "username": "user-02"
      },
      {
       "id": "760cf441-613c-48a2-b377-36aebc9f9ed0",
       "password": "pwd",
       "tags": [
        "consumer-01-credential-04"
       ],
       "username": "user-11"
      }
     ],
     "id": "cdac30ee-cd7e-465c-99b6-84f3e4e17015",
     "tags": [
      "consumer-01"
     ],
     "username": "consumer-01"
    },
    {
     "basicauth_credentials": [
      {
       "id": "d0cd1919-bb07-4c85-b407-f33feb74f6e2",
       "password": "pwd",
       "tags": [
        "consumer-02-credential-01"
       ],
       "username": "user-99"
      }
     ],
     "id": "c0c021f5-dae1-4031-bcf6-42e3c4d9ced9",
     "tags": [
      "consumer-02"
     ],
     "username": "consumer-02"
    },
    {
     "basicauth_credentials": [
      {
       "id": "7e8bcd10-cdcd-41f1-8c4d-9790d34aa67d",
       "password": "pwd",
       "tags": [
        "consumer-03-credential-01"
       ],
       "username": "user-01"
      },
      {
       "id": "7fe186bd-44e5-4b97-854d-85a24929889d",
       "password": "pwd",
       "tags": [
        "consumer-03-credential-02"
       ],
       "username": "user-33"
      },
      {
       "id": "6547c325-5332-41fc-a954-d4972926cdb5",
       "password": "pwd",
       "tags": [
        "consumer-03-credential-03"
       ],
       "username": "user-02"
      },
      {
       "id": "e091a955-9ee1-4403-8d0a-a7f1f8bafaca",
       "password": "pwd",
       "tags": [
        "consumer-03-credential-04"
       ],
       "username": "user-33"
      }
     ],
     "id": "9acb0270-73aa-4968-b9e4-a4924e4aced5",
     "tags": [
      "consumer-03"
     ],
     "username": "consumer-03"
    }
   ]
  },
  "expected": [
   {
    "entity": {
     "consumer": {
      "id": "9acb0270-73aa-4968-b9e4-a4924e4aced5"
     },
     "id": "e091a955-9ee1-4403-8d0a-a7f1f8bafaca",
     "password": "pwd",
     "tags": [
      "consumer-03-credential-04"
     ],
     "username": "user-33"
    },
    "entity_id": "e091a955-9ee1-4403-8d0a-a7f1f8bafaca",
    "entity_tags": [
     "consumer-03-credential-04"
    ],
    "entity_type": "basicauth_credential",
    "errors": [
     {
      "message": "uniqueness violation: 'basicauth_credentials' entity with username set to 'user-33' already declared",
      "type": "entity"
     }
    ]
   },
   {
    "entity": {
     "consumer": {
      "id": "9acb0270-73aa-4968-b9e4-a4924e4aced5"
     },
     "id": "6547c325-5332-41fc-a954-d4972926cdb5",
     "password": "pwd",
     "tags": [
      "consumer-03-credential-03"
     ],
     "username": "user-02"
    },
    "entity_id": "6547c325-5332-41fc-a954-d4972926cdb5",
    "entity_tags": [
     "consumer-03-credential-03"
    ],
    "entity_type": "basicauth_credential",
    "errors": [
     {
      "message": "uniqueness violation: 'basicauth_credentials' entity with username set to 'user-02' already declared",
      "type": "entity"
     }
    ]
   },
   {
    "entity": {
     "consumer": {
      "id": "9acb0270-73aa-4968-b9e4-a4924e4aced5"
     },
     "id": "7e8bcd10-cdcd-41f1-8c4d-9790d34aa67d",
     "password": "pwd",
     "tags": [
      "consumer-03-credential-01"
     ],
     "username": "user-01"
    },
    "entity_id": "7e8bcd10-cdcd-41f1-8c4d-9790d34aa67d",
    "entity_tags": [
     "consumer-03-credential-01"
    ],
    "entity_type": "basicauth_credential",
    "errors": [
     {
      "message": "uniqueness violation: 'basicauth_credentials' entity with username set to 'user-01' already declared",
      "type": "entity"
     }
    ]
   },
   {
    "entity": {
     "consumer": {
      "id": "cdac30ee-cd7e-465c-99b6-84f3e4e17015"
     },
     "id": "760cf441-613c-48a2-b377-36aebc9f9ed0",
     "password": "pwd",
     "tags": [
      "consumer-01-credential-04"
     ],
     "username": "user-11"
    },
    "entity_id": "760cf441-613c-48a2-b377-36aebc9f9ed0",
    "entity_tags": [
     "consumer-01-credential-04"
    ],
    "entity_type": "basicauth_credential",
    "errors": [
     {
      "message": "uniqueness violation: 'basicauth_credentials' entity with username set to 'user-11' already declared",
      "type": "entity"
     }
    ]
   }
  ]
 },
 {
  "name": "origin error do not loss when enable flatten_errors - (#12167)",
  "path": "/config?flatten_errors=1",
  "body": {
   "_format_version": "3.0",
   "consumers": [
    {
     "id": "a73dc9a7-93df-584d-97c0-7f41a1bbce3d",
     "tags": [
      "consumer-1"
     ],
     "username": "test-consumer-1"
    },
    {
     "id": "a73dc9a7-93df-584d-97c0-7f41a1bbce32",
     "tags": [
      "consumer-2"
     ],
     "username": "test-consumer-1"
    }
   ]
  },
  "expected": [
   {
    "entity": {
     "id": "a73dc9a7-93df-584d-97c0-7f41a1bbce32",
     "tags": [
      "consumer-2"
     ],
     "username": "test-consumer-1"
    },
    "entity_id": "a73dc9a7-93df-584d-97c0-7f41a1bbce32",
    "entity_tags": [
     "consumer-2"
    ],
    "entity_type": "consumer",
    "errors": [
     {
      "message": "uniqueness violation: 'consumers' entity with username set to 'test-consumer-1' already declared",
      "type": "entity"
     }
    ]
   }
  ]
 }
]

let gw: DblessGateway

before(async () => { gw = await startDblessGateway() })
after(async () => { await gw?.stop() })

const isFk = (v: any): boolean => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && v.id !== undefined

type Err = { type: string; field?: string; message: string }
const sortErrors = (t: Err[]): Err[] => [...t].sort((a, b) =>
  a.type !== b.type ? (a.type < b.type ? -1 : 1)
    : (a.field ?? '') !== (b.field ?? '') ? ((a.field ?? '') < (b.field ?? '') ? -1 : 1)
      : a.message < b.message ? -1 : a.message > b.message ? 1 : 0)

/** Lua sees no difference between an empty array and an empty object, nor a null and a missing key. */
function lua (v: any): any {
  if (v === null || v === undefined) return undefined
  if (Array.isArray(v)) return v.length === 0 ? {} : v.map(lua)
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = lua(x)
    return out
  }
  return v
}

function messagesMatch (exp: Err[], got: Err[]): boolean {
  if (exp.length !== got.length) return false
  return exp.every((e, i) => {
    const g = got[i]!
    if (e.type !== g.type || e.field !== g.field) return false
    return e.message.endsWith('*') ? g.message.startsWith(e.message.slice(0, -1)) : e.message === g.message
  })
}

function compareField (field: string, exp: any, got: any, diffs: string[]): void {
  if (field === 'entity_id' || field === 'id' || isFk(got)) {
    if (exp === undefined) got = undefined
  } else if (field === 'entity') {
    if (got === null || typeof got !== 'object') { diffs.push('entity'); return }
    for (const f of new Set([...Object.keys(exp), ...Object.keys(got)])) compareField(f, exp[f], got[f], diffs)
    return
  } else if (field === 'errors') {
    if (!Array.isArray(got) || !messagesMatch(sortErrors(exp), sortErrors(got))) diffs.push(`errors: ${JSON.stringify(got)}`)
    return
  }
  if (!isDeepStrictEqual(lua(exp), lua(got))) diffs.push(`${field}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(got)}`)
}

async function postFlattened (c: Case): Promise<any[]> {
  const r = await fetch(`${gw.admin}${c.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c.body) })
  assert.equal(r.status, 400)
  const body = await r.json() as { flattened_errors?: unknown }
  assert.ok(Array.isArray(body.flattened_errors), 'flattened_errors is an array')
  return body.flattened_errors as any[]
}

for (const c of CASES) {
  test(`Kong 15-off_spec [flattened errors]: ${c.name}`, async () => {
    const got = await postFlattened(c)
    const problems: string[] = []
    for (const exp of c.expected) {
      const tag = exp.entity?.tags?.[0]
      const i = got.findIndex((g) => g.entity?.tags?.[0] === tag)
      if (i < 0) { problems.push(`missing: ${JSON.stringify(exp)}`); continue }
      const [entry] = got.splice(i, 1)
      const diffs: string[] = []
      for (const f of new Set([...Object.keys(exp), ...Object.keys(entry)])) compareField(f, exp[f], entry[f], diffs)
      if (diffs.length > 0) problems.push(`${tag}: ${diffs.join('; ')}`)
    }
    for (const g of got) problems.push(`unexpected: ${JSON.stringify(g)}`)
    assert.deepEqual(problems, [])
  })
}

test('Kong 15-off_spec: the flattened entry of a generated-id duplicate names the id of its message', async () => {
  const target = { target: '10.244.0.12:80', weight: 1 }
  const got = await postFlattened({
    name: '',
    path: '/config?flatten_errors=1',
    expected: [],
    body: {
      _format_version: '3.0',
      upstreams: [{ name: 'u1', targets: [{ ...target, tags: ['target-1'] }, { ...target, tags: ['target-2'] }] }],
    },
  })
  assert.equal(got.length, 1)
  const e = got[0]
  assert.deepEqual(e.entity_tags, ['target-2'])
  assert.match(e.entity_id, /^[0-9a-f-]{36}$/)
  assert.equal(e.entity.id, e.entity_id)
  assert.deepEqual(e.errors, [{ type: 'entity', message: `uniqueness violation: 'targets' entity with primary key set to '${e.entity_id}' already declared` }])
})

test('Kong 15-off_spec: preserves ids and nested foreign keys; omits invalid entity_* fields', async () => {
  const id = 'cb019421-62c2-47a8-b714-d7567b114037'
  let got = await postFlattened({
    name: '',
    path: '/config?flatten_errors=1',
    expected: [],
    body: { _format_version: '3.0', services: [{ id, name: 'test', host: 'localhost', port: 1234, protocol: 'nope', tags: ['service-01'], routes: [{ super_duper_invalid: true, tags: ['route-01'] }] }] },
  })
  const svc = got.find((g) => g.entity.tags[0] === 'service-01')
  assert.equal(svc.entity_id, id)
  assert.equal(svc.entity.id, id)
  const route = got.find((g) => g.entity.tags[0] === 'route-01')
  assert.deepEqual(route.entity.service, { id })

  got = await postFlattened({
    name: '',
    path: '/config?flatten_errors=1',
    expected: [],
    body: { _format_version: '3.0', services: [{ id: 1234, name: false, tags: ['service-01', [1.5]], url: 'http://localhost:1234' }] },
  })
  assert.equal(got.length, 1)
  assert.equal(got[0].entity_id, undefined)
  assert.equal(got[0].entity_name, undefined)
  assert.equal(got[0].entity_tags, undefined)
  assert.equal(got[0].entity.id, 1234)
  assert.equal(got[0].entity.name, false)
})
