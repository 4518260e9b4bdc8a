-- The session plugin's tables (kong/plugins/session/migrations/000_base_session.lua to
-- 003_330_to_3100.lua), minus ws_id: one `sessions` row per server-side session (`storage = kong`),
-- `session_id` being the id the cookie carries, `data` the sealed session data, `expires` epoch
-- seconds, `ttl` when the row stops being served; with `store_metadata`, a `session_metadatas` row
-- per session (base64url audience and subject), gone with its session.

create table sessions (
  id          uuid primary key,
  session_id  text constraint sessions_session_id_key unique,
  expires     integer,
  data        text,
  created_at  timestamptz,
  ttl         timestamptz
);
create index session_sessions_expires_idx on sessions (expires);
create index sessions_ttl_idx on sessions (ttl);

-- Expired rows are removed whenever one is written (Kong's batch_delete_expired_rows trigger);
-- reads already ignore them.
create function sluice_delete_expired_sessions() returns trigger language plpgsql as $$
begin
  delete from sessions where ttl < now();
  return null;
end $$;
create trigger sessions_ttl_trigger after insert on sessions
  for each statement execute function sluice_delete_expired_sessions();

create table session_metadatas (
  id          uuid primary key,
  session_id  uuid constraint session_metadatas_session_id_fkey references sessions (id) on delete cascade,
  sid         text,
  subject     text,
  audience    text,
  created_at  timestamptz
);
create index session_id_idx on session_metadatas (session_id);
create index subject_audience_idx on session_metadatas (subject, audience);
