-- Core entities: services and routes, with Kong's columns (kong/db/migrations/core), minus ws_id.
-- Column types follow src/db/dao/columns.ts: integers are bigint, timestamps timestamptz (read
-- back as epoch seconds), string lists text[], maps and lists of records jsonb, a foreign key
-- `f` is `f_id`. Constraint names matter: the DAO maps `<table>_<column>_key` unique
-- violations and `<table>_<column>_fkey` foreign key violations to Kong's errors. As in Kong,
-- only the primary key is NOT NULL; the schema decides what else is required.

create table services (
  id                    uuid primary key,
  created_at            timestamptz,
  updated_at            timestamptz,
  name                  text constraint services_name_key unique,
  retries               bigint,
  protocol              text,
  host                  text,
  port                  bigint,
  path                  text,
  connect_timeout       bigint,
  write_timeout         bigint,
  read_timeout          bigint,
  tags                  text[],
  -- references certificates(id) once that table exists (a later migration adds the constraint)
  client_certificate_id uuid,
  tls_verify            boolean,
  tls_verify_depth      bigint,
  ca_certificates       uuid[],
  enabled               boolean default true
);
create index services_tags_idx on services using gin (tags);

-- No ON DELETE CASCADE: deleting a service that routes still use is refused, as in Kong
-- ("an existing 'routes' entity references this 'services' entity").
create table routes (
  id                         uuid primary key,
  created_at                 timestamptz,
  updated_at                 timestamptz,
  name                       text constraint routes_name_key unique,
  protocols                  text[],
  https_redirect_status_code bigint,
  strip_path                 boolean,
  preserve_host              boolean,
  request_buffering          boolean,
  response_buffering         boolean,
  tags                       text[],
  service_id                 uuid constraint routes_service_id_fkey references services (id),
  snis                       text[],
  sources                    jsonb,
  destinations               jsonb,
  methods                    text[],
  hosts                      text[],
  paths                      text[],
  headers                    jsonb,
  regex_priority             bigint,
  path_handling              text
);
create index routes_service_id_idx on routes (service_id);
create index routes_tags_idx on routes using gin (tags);
