-- Key sets and keys (kong/db/migrations/core/017_300_to_310.lua, minus ws_id): named sets of
-- keys, and keys given as a JWK (`jwk` text) or a PEM pair (`pem` jsonb), each named by `kid`.
-- Conventions as in 000002/000003: `set_id` is the `set` foreign key, ON DELETE CASCADE as
-- keys.lua's `on_delete = "cascade"`; the composite cache key `keys:<kid>:<set id>` (keys.lua's
-- own cache_key, Kong's dao/keys.lua) lives in a unique `cache_key` column, which makes a kid
-- unique within its set and among the keys of no set. Kong's UNIQUE (kid, set_id) is kept too.

create table key_sets (
  id         uuid primary key,
  name       text constraint key_sets_name_key unique,
  tags       text[],
  created_at timestamptz,
  updated_at timestamptz
);
create index key_sets_tags_idx on key_sets using gin (tags);

create trigger key_sets_sync_tags_trigger after insert or update of tags or delete on key_sets
  for each row execute function sync_tags();

create table keys (
  id         uuid primary key,
  set_id     uuid constraint keys_set_id_fkey references key_sets (id) on delete cascade,
  name       text constraint keys_name_key unique,
  cache_key  text constraint keys_cache_key_key unique,
  kid        text,
  jwk        text,
  pem        jsonb,
  tags       text[],
  created_at timestamptz,
  updated_at timestamptz,
  constraint keys_kid_set_id_key unique (kid, set_id)
);
create index keys_set_id_idx on keys (set_id);
create index keys_tags_idx on keys using gin (tags);

create trigger keys_sync_tags_trigger after insert or update of tags or delete on keys
  for each row execute function sync_tags();
