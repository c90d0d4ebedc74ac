-- A reviewer passes on their item: it returns to the queue for others, never to them.
-- ARGV: prefix, id, reviewer, lease, now. Reply: {'ok'} or {'conflict', why}.
local id, reviewer, lease, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local problem = lease_problem(id, reviewer, lease, now)
if problem then return {'conflict', problem} end
redis.call('SADD', k_seen(id), reviewer)
redis.call('HINCRBY', k_item(id), 'skips', 1)
release_holding(reviewer, id)
requeue(id)
return {'ok'}
