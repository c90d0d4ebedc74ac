-- A reviewer is not sure of their item: it goes to the experts' queue (served only to reviewers with the
-- expert role, never back to this reviewer), with their note (why) shown to the expert beside the skip notes.
-- Nothing is published: it is not an answer. Once anyone answers it, its other overlap answers (if it needs
-- more) may come from anyone again.
-- ARGV: prefix, id, reviewer, lease, now, note ('' for none), day (YYYY-MM-DD: counted in the reviewer's day).
-- Reply: {'ok'} or {'conflict', why}.
local NOTES_MAX = 5
local id, reviewer, lease, now, note, day = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
id = resolve(id, lease)  -- a gold instance's shown id, under its lease: its key (prelude.lua)
local problem = lease_problem(id, reviewer, lease, now)
if problem then return {'conflict', problem} end
local item = k_item(id)
redis.call('SADD', k_seen(id), reviewer)
if not redis.call('HGET', item, 'expert') then  -- since when it waits for an expert (expert_timeout.lua)
  redis.call('ZADD', K_EXPERT_SINCE, now, id)
end
redis.call('HSET', item, 'expert', 1)
redis.call('HINCRBY', item, 'unsure', 1)
redis.call('HINCRBY', P .. ':review:unsureday:' .. day, reviewer, 1)
redis.call('EXPIRE', P .. ':review:unsureday:' .. day, 3 * DAY_SECONDS)
local raw = redis.call('HGET', item, 'skip_notes')
local notes = raw and cjson.decode(raw) or {}
table.insert(notes, {reviewer = reviewer, note = note ~= '' and note or 'not sure', at = now, unsure = true})
while #notes > NOTES_MAX do table.remove(notes, 1) end
redis.call('HSET', item, 'skip_notes', cjson.encode(notes))
release_holding(reviewer, id)
requeue(id)
return {'ok'}
