-- Vaults (kong/db/migrations/core/013_220_to_230.lua `sm_vaults`, minus ws_id): named
-- configurations of the installed vaults, addressed in `{vault://<prefix>/...}` references.
-- Conventions as in 000002 (constraint names map unique violations to Kong's errors).

create table sm_vaults (
  id          uuid primary key,
  prefix      text constraint sm_vaults_prefix_key unique,
  name        text,
  description text,
  config      jsonb,
  created_at  timestamptz,
  updated_at  timestamptz,
  tags        text[]
);
create index sm_vaults_tags_idx on sm_vaults using gin (tags);

create trigger sm_vaults_sync_tags_trigger after insert or update of tags or delete on sm_vaults
  for each row execute function sync_tags();
