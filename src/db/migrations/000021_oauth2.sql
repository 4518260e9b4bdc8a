-- The oauth2 plugin's tables (kong/plugins/oauth2/migrations/000_base_oauth2.lua and later steps),
-- minus ws_id, with the conventions of 000003: `f_id` foreign keys, `<table>_<column>_key`
-- unique constraints, a `ttl` column for rows that expire. Credentials go with their consumer;
-- codes and tokens go with their credential, their service, and (codes) the plugin that issued them.

create table oauth2_credentials (
  id            uuid primary key,
  created_at    timestamptz,
  consumer_id   uuid constraint oauth2_credentials_consumer_id_fkey references consumers (id) on delete cascade,
  name          text,
  client_id     text constraint oauth2_credentials_client_id_key unique,
  client_secret text,
  hash_secret   boolean,
  redirect_uris text[],
  tags          text[],
  client_type   text
);
create index oauth2_credentials_consumer_id_idx on oauth2_credentials (consumer_id);
create index oauth2_credentials_secret_idx on oauth2_credentials (client_secret);
create index oauth2_credentials_tags_idx on oauth2_credentials using gin (tags);

create table oauth2_authorization_codes (
  id                   uuid primary key,
  created_at           timestamptz,
  service_id           uuid constraint oauth2_authorization_codes_service_id_fkey references services (id) on delete cascade,
  credential_id        uuid constraint oauth2_authorization_codes_credential_id_fkey references oauth2_credentials (id) on delete cascade,
  code                 text constraint oauth2_authorization_codes_code_key unique,
  authenticated_userid text,
  scope                text,
  challenge            text,
  challenge_method     text,
  plugin_id            uuid constraint oauth2_authorization_codes_plugin_id_fkey references plugins (id) on delete cascade,
  ttl                  timestamptz
);
create index oauth2_authorization_codes_authenticated_userid_idx on oauth2_authorization_codes (authenticated_userid);
create index oauth2_authorization_codes_service_id_idx on oauth2_authorization_codes (service_id);
create index oauth2_authorization_codes_credential_id_idx on oauth2_authorization_codes (credential_id);
create index oauth2_authorization_codes_plugin_id_idx on oauth2_authorization_codes (plugin_id);
create index oauth2_authorization_codes_ttl_idx on oauth2_authorization_codes (ttl);

create table oauth2_tokens (
  id                   uuid primary key,
  created_at           timestamptz,
  service_id           uuid constraint oauth2_tokens_service_id_fkey references services (id) on delete cascade,
  credential_id        uuid constraint oauth2_tokens_credential_id_fkey references oauth2_credentials (id) on delete cascade,
  token_type           text,
  expires_in           bigint,
  access_token         text constraint oauth2_tokens_access_token_key unique,
  refresh_token        text constraint oauth2_tokens_refresh_token_key unique,
  authenticated_userid text,
  scope                text,
  ttl                  timestamptz
);
create index oauth2_tokens_authenticated_userid_idx on oauth2_tokens (authenticated_userid);
create index oauth2_tokens_service_id_idx on oauth2_tokens (service_id);
create index oauth2_tokens_credential_id_idx on oauth2_tokens (credential_id);
create index oauth2_tokens_ttl_idx on oauth2_tokens (ttl);

-- Expired codes and tokens are removed whenever one is written (Kong's batch_delete_expired_rows
-- trigger). Reads already ignore them; workers that cached a token honour its expiry themselves.
create function sluice_delete_expired_oauth2() returns trigger language plpgsql as $$
begin
  execute format('delete from %I where ttl < now()', tg_table_name);
  return null;
end $$;
create trigger oauth2_authorization_codes_ttl_trigger after insert on oauth2_authorization_codes
  for each statement execute function sluice_delete_expired_oauth2();
create trigger oauth2_tokens_ttl_trigger after insert on oauth2_tokens
  for each statement execute function sluice_delete_expired_oauth2();

create trigger oauth2_credentials_sync_tags_trigger after insert or update of tags or delete on oauth2_credentials
  for each row execute function sync_tags();
