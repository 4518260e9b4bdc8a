/** The example file `sluice config init` writes (the role of kong/templates/kong_yml.lua). */
export const KONG_YML = `# A declarative configuration for Sluice, in Kong's format.
#
# Serve it without a database:
#   database = off
#   declarative_config = /path/to/kong.yml
# or load it into PostgreSQL:
#   sluice config db_import kong.yml
#
# Check it without loading anything:
#   sluice config parse kong.yml

# Required: the format of this file (Kong 3.x writes "3.0").
_format_version: "3.0"

# Hash credentials and apply other transformations on load (default). Exports say false,
# since their secrets are already transformed.
_transform: true

# Entities are listed under their table names. Ids are optional: a missing one is derived from
# the entity's name or key, so loading the same file twice gives the same ids.
#
# Children may be nested under their parent (routes and plugins under a service, credentials
# under a consumer, targets under an upstream, snis under a certificate); elsewhere, refer to
# another entity by its name or id.

#services:
#- name: example-service
#  url: http://example.com
#  # nested routes, linked to this service
#  routes:
#  - name: example-route
#    paths:
#    - /
#  # nested plugins, applied to this service
#  plugins:
#  - name: key-auth
#
#- name: another-service
#  url: https://example.org

#routes:
#- name: another-route
#  # a reference by name
#  service: another-service
#  paths:
#  - /another

#consumers:
#- username: example-user
#  keyauth_credentials:
#  - key: my-key
#- username: another-user
#  basicauth_credentials:
#  - username: my-user
#    password: my-password

#plugins:
#- name: rate-limiting
#  consumer: example-user
#  config:
#    minute: 5
#    policy: local

#upstreams:
#- name: example-upstream
#  targets:
#  - target: 127.0.0.1:8080
#    weight: 100
`
