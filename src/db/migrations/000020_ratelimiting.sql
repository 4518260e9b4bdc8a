-- Counters of the rate-limiting and response-ratelimiting plugins (cluster policy): Kong's tables
-- (kong/plugins/rate-limiting/migrations/000_base_rate_limiting.lua, 003, 004, 005 and
-- response-ratelimiting/migrations/000_base_response_rate_limiting.lua), same key, same `value`.
--
-- Sluice adds the quota reservation of primary/ratelimit/reservation.ts: `reserved` is the quota
-- handed out to nodes for the window (never above `lim`), `granted` the grant of the last write,
-- `lim` the limit in force at the last write. `value` stays the usage, as in Kong.
create table if not exists ratelimiting_metrics (
  identifier  text        not null,
  period      text        not null,
  period_date timestamptz not null,
  service_id  uuid        not null default '00000000-0000-0000-0000-000000000000'::uuid,
  route_id    uuid        not null default '00000000-0000-0000-0000-000000000000'::uuid,
  value       integer,
  ttl         timestamptz,
  lim         integer     not null default 0,
  reserved    integer     not null default 0,
  granted     integer     not null default 0,
  primary key (identifier, period, period_date, service_id, route_id)
);
create index if not exists ratelimiting_metrics_idx on ratelimiting_metrics (service_id, route_id, period_date, period);
create index if not exists ratelimiting_metrics_ttl_idx on ratelimiting_metrics (ttl);

-- Kong's table has no ttl; Sluice gives it one so that old windows are deleted the same way.
create table if not exists response_ratelimiting_metrics (
  identifier  text        not null,
  period      text        not null,
  period_date timestamptz not null,
  service_id  uuid        not null default '00000000-0000-0000-0000-000000000000'::uuid,
  route_id    uuid        not null default '00000000-0000-0000-0000-000000000000'::uuid,
  value       integer,
  ttl         timestamptz,
  primary key (identifier, period, period_date, service_id, route_id)
);
create index if not exists response_ratelimiting_metrics_ttl_idx on response_ratelimiting_metrics (ttl);

-- Expiry, as Kong's batch_delete_expired_rows trigger: after each insert statement, up to 1000
-- expired rows go. SKIP LOCKED: nodes flushing at the same moment never wait on each other here.
create function sluice_delete_expired_counters() returns trigger language plpgsql as $$
begin
  execute format(
    'delete from %I where ctid = any(array(select ctid from %I where ttl < now() limit 1000 for update skip locked))',
    TG_TABLE_NAME, TG_TABLE_NAME);
  return null;
end $$;

create trigger ratelimiting_metrics_ttl_trigger after insert on ratelimiting_metrics
  for each statement execute function sluice_delete_expired_counters();
create trigger response_ratelimiting_metrics_ttl_trigger after insert on response_ratelimiting_metrics
  for each statement execute function sluice_delete_expired_counters();
