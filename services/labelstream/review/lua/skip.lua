-- A reviewer passes on their item: it returns to the queue for others, never to them. A note (why
-- they were not sure) stays with the item and is shown to the next reviewers (the last NOTES_MAX).
-- ARGV: prefix, id, reviewer, lease, now, note ('' for none), day (YYYY-MM-DD: counted in the reviewer's
-- skips of the day). Reply: {'ok'} or {'conflict', why}.
local NOTES_MAX = 5
local id, reviewer, lease, now, note, day = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6] or '', ARGV[7]
id = resolve(id, lease)  -- a gold instance's shown id, under its lease: its key (prelude.lua)
local problem = lease_problem(id, reviewer, lease, now)
if problem then return {'conflict', problem} end
redis.call('SADD', k_seen(id), reviewer)
redis.call('HINCRBY', k_item(id), 'skips', 1)
if day then
  redis.call('HINCRBY', P .. ':review:skipday:' .. day, reviewer, 1)
  redis.call('EXPIRE', P .. ':review:skipday:' .. day, 3 * DAY_SECONDS)
end
if note ~= '' then
  local raw = redis.call('HGET', k_item(id), 'skip_notes')
  local notes = raw and cjson.decode(raw) or {}
  table.insert(notes, {reviewer = reviewer, note = note, at = now})
  while #notes > NOTES_MAX do table.remove(notes, 1) end
  redis.call('HSET', k_item(id), 'skip_notes', cjson.encode(notes))
end
release_holding(reviewer, id)
requeue(id)
return {'ok'}
