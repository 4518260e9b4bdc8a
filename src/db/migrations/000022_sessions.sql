-- The session plugin's table (kong/plugins/session/migrations/000_base_session.lua and
-- 001_add_ttl_index.lua), minus ws_id: one row per server-side session (`storage = kong`).
-- `session_id` is the id the cookie carries, `data` the sealed session data, `expires` epoch
-- seconds, `ttl` when the row stops being served. Kong's session_metadatas (store_metadata) is
-- not kept.

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
