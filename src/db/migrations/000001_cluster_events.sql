-- Cluster propagation: every Admin API write inserts one row here in the same transaction as the
-- write. The insert trigger NOTIFYs (delivered at commit), and nodes that missed a notification
-- catch up by reading rows after the last seq they applied. `txid` lets a reader skip rows of
-- transactions that are still in flight (see primary/cluster-sync.ts).
create table cluster_events (
  seq        bigserial primary key,
  id         uuid not null default gen_random_uuid(),
  node_id    uuid,
  at         timestamptz not null default now(),
  txid       xid8 not null default pg_current_xact_id(),
  channel    text not null,
  data       text
);
create index cluster_events_at_idx on cluster_events (at);

create function sluice_notify_event() returns trigger language plpgsql as $$
begin
  perform pg_notify('sluice_events', new.seq::text);
  delete from cluster_events where at < now() - interval '1 hour';
  return null;
end $$;

create trigger cluster_events_notify after insert on cluster_events
  for each row execute function sluice_notify_event();
