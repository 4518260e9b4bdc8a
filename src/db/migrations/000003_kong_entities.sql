-- The rest of Kong's data model: consumers, plugins, upstreams/targets, certificates/snis,
-- ca_certificates, the auth plugins' credentials, and the `tags` index (kong/db/migrations/core
-- and kong/plugins/*/migrations), minus ws_id. Conventions as in 000002: bigint integers,
-- timestamptz timestamps, text[] string lists, jsonb records, `f_id` foreign keys, constraints
-- named `<table>_<column>_key` / `<table>_<column>_fkey` for the DAO's error mapping.
-- `on_delete = "cascade"` foreign keys are ON DELETE CASCADE; the DAO reads the rows that go
-- first, to record one cluster event each. Composite cache keys (plugins, targets, acls) live
-- in a unique `cache_key` column; expiring rows (key-auth) in a `ttl` column.

create table certificates (
  id         uuid primary key,
  created_at timestamptz,
  updated_at timestamptz,
  cert       text,
  key        text,
  cert_alt   text,
  key_alt    text,
  tags       text[]
);
create index certificates_tags_idx on certificates using gin (tags);

create table snis (
  id             uuid primary key,
  name           text constraint snis_name_key unique,
  created_at     timestamptz,
  updated_at     timestamptz,
  tags           text[],
  certificate_id uuid constraint snis_certificate_id_fkey references certificates (id)
);
create index snis_certificate_id_idx on snis (certificate_id);
create index snis_tags_idx on snis using gin (tags);

create table ca_certificates (
  id          uuid primary key,
  created_at  timestamptz,
  updated_at  timestamptz,
  cert        text,
  cert_digest text constraint ca_certificates_cert_digest_key unique,
  tags        text[]
);
create index ca_certificates_tags_idx on ca_certificates using gin (tags);

alter table services add constraint services_client_certificate_id_fkey
  foreign key (client_certificate_id) references certificates (id);
create index services_client_certificate_id_idx on services (client_certificate_id);

create table consumers (
  id         uuid primary key,
  created_at timestamptz,
  updated_at timestamptz,
  username   text constraint consumers_username_key unique,
  custom_id  text constraint consumers_custom_id_key unique,
  tags       text[]
);
create index consumers_tags_idx on consumers using gin (tags);

create table upstreams (
  id                        uuid primary key,
  created_at                timestamptz,
  name                      text constraint upstreams_name_key unique,
  updated_at                timestamptz,
  algorithm                 text,
  hash_on                   text,
  hash_fallback             text,
  hash_on_header            text,
  hash_fallback_header      text,
  hash_on_cookie            text,
  hash_on_cookie_path       text,
  hash_on_query_arg         text,
  hash_fallback_query_arg   text,
  hash_on_uri_capture       text,
  hash_fallback_uri_capture text,
  slots                     bigint,
  healthchecks              jsonb,
  tags                      text[],
  host_header               text,
  client_certificate_id     uuid constraint upstreams_client_certificate_id_fkey references certificates (id),
  use_srv_name              boolean
);
create index upstreams_tags_idx on upstreams using gin (tags);

create table targets (
  id          uuid primary key,
  created_at  timestamptz,
  updated_at  timestamptz,
  upstream_id uuid constraint targets_upstream_id_fkey references upstreams (id) on delete cascade,
  target      text,
  weight      bigint,
  tags        text[],
  cache_key   text constraint targets_cache_key_key unique
);
create index targets_upstream_id_idx on targets (upstream_id);
create index targets_tags_idx on targets using gin (tags);

create table plugins (
  id            uuid primary key,
  name          text,
  instance_name text constraint plugins_instance_name_key unique,
  created_at    timestamptz,
  updated_at    timestamptz,
  route_id      uuid constraint plugins_route_id_fkey references routes (id) on delete cascade,
  service_id    uuid constraint plugins_service_id_fkey references services (id) on delete cascade,
  consumer_id   uuid constraint plugins_consumer_id_fkey references consumers (id) on delete cascade,
  config        jsonb,
  protocols     text[],
  enabled       boolean,
  tags          text[],
  cache_key     text constraint plugins_cache_key_key unique
);
create index plugins_name_idx on plugins (name);
create index plugins_route_id_idx on plugins (route_id);
create index plugins_service_id_idx on plugins (service_id);
create index plugins_consumer_id_idx on plugins (consumer_id);
create index plugins_tags_idx on plugins using gin (tags);

create table keyauth_credentials (
  id          uuid primary key,
  created_at  timestamptz,
  consumer_id uuid constraint keyauth_credentials_consumer_id_fkey references consumers (id) on delete cascade,
  key         text constraint keyauth_credentials_key_key unique,
  tags        text[],
  ttl         timestamptz
);
create index keyauth_credentials_consumer_id_idx on keyauth_credentials (consumer_id);
create index keyauth_credentials_ttl_idx on keyauth_credentials (ttl);
create index keyauth_credentials_tags_idx on keyauth_credentials using gin (tags);

create table basicauth_credentials (
  id          uuid primary key,
  created_at  timestamptz,
  consumer_id uuid constraint basicauth_credentials_consumer_id_fkey references consumers (id) on delete cascade,
  username    text constraint basicauth_credentials_username_key unique,
  password    text,
  tags        text[]
);
create index basicauth_credentials_consumer_id_idx on basicauth_credentials (consumer_id);
create index basicauth_credentials_tags_idx on basicauth_credentials using gin (tags);

create table acls (
  id          uuid primary key,
  created_at  timestamptz,
  consumer_id uuid constraint acls_consumer_id_fkey references consumers (id) on delete cascade,
  "group"     text,
  tags        text[],
  cache_key   text constraint acls_cache_key_key unique
);
create index acls_consumer_id_idx on acls (consumer_id);
create index acls_group_idx on acls ("group");
create index acls_tags_idx on acls using gin (tags);

create table hmacauth_credentials (
  id          uuid primary key,
  created_at  timestamptz,
  consumer_id uuid constraint hmacauth_credentials_consumer_id_fkey references consumers (id) on delete cascade,
  username    text constraint hmacauth_credentials_username_key unique,
  secret      text,
  tags        text[]
);
create index hmacauth_credentials_consumer_id_idx on hmacauth_credentials (consumer_id);
create index hmacauth_credentials_tags_idx on hmacauth_credentials using gin (tags);

create table jwt_secrets (
  id             uuid primary key,
  created_at     timestamptz,
  consumer_id    uuid constraint jwt_secrets_consumer_id_fkey references consumers (id) on delete cascade,
  key            text constraint jwt_secrets_key_key unique,
  secret         text,
  rsa_public_key text,
  algorithm      text,
  tags           text[]
);
create index jwt_secrets_consumer_id_idx on jwt_secrets (consumer_id);
create index jwt_secrets_secret_idx on jwt_secrets (secret);
create index jwt_secrets_tags_idx on jwt_secrets using gin (tags);

-- Expired key-auth credentials are deleted whenever one is written (Kong's
-- batch_delete_expired_rows trigger), each with its cluster event so every node drops it.
create function sluice_delete_expired_keyauth() returns trigger language plpgsql as $$
begin
  with gone as (
    delete from keyauth_credentials where ttl < now() returning id
  )
  insert into cluster_events (node_id, channel, data)
    select null, 'crud', json_build_object('entity', 'keyauth_credentials', 'op', 'delete', 'id', id)::text from gone;
  return null;
end $$;
create trigger keyauth_credentials_ttl_trigger after insert on keyauth_credentials
  for each statement execute function sluice_delete_expired_keyauth();

-- The tags index behind /tags (kong/db/migrations/core/007_140_to_150.lua sync_tags): one row
-- per tagged entity, kept in step by a trigger on every table with tags.
create table tags (
  entity_id   uuid primary key,
  entity_name text,
  tags        text[]
);
create index tags_entity_name_idx on tags (entity_name);
create index tags_tags_idx on tags using gin (tags);

create function sync_tags() returns trigger language plpgsql as $$
begin
  if (tg_op = 'TRUNCATE') then
    delete from tags where entity_name = tg_table_name;
    return null;
  elsif (tg_op = 'DELETE') then
    delete from tags where entity_id = old.id;
    return old;
  elsif (tg_op = 'INSERT' or old.tags is distinct from new.tags) then
    insert into tags (entity_id, entity_name, tags) values (new.id, tg_table_name, new.tags)
      on conflict (entity_id) do update set tags = excluded.tags;
  end if;
  return new;
end $$;

do $$
declare t text;
begin
  foreach t in array array['services', 'routes', 'certificates', 'snis', 'ca_certificates', 'consumers', 'upstreams',
    'targets', 'plugins', 'keyauth_credentials', 'basicauth_credentials', 'acls', 'hmacauth_credentials', 'jwt_secrets']
  loop
    execute format('create trigger %I after insert or update of tags or delete on %I for each row execute function sync_tags()',
      t || '_sync_tags_trigger', t);
    execute format('insert into tags (entity_id, entity_name, tags) select id, %L, tags from %I', t, t);
  end loop;
end $$;
