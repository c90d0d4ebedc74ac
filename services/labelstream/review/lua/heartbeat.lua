-- Extend a live lease. ARGV: prefix, id, reviewer, lease, now, lease seconds.
-- Reply: {'ok', expires} or {'conflict', why}.
local id, reviewer, lease = ARGV[2], ARGV[3], ARGV[4]
local now, seconds = tonumber(ARGV[5]), tonumber(ARGV[6])
local problem = lease_problem(id, reviewer, lease, now)
if problem then return {'conflict', problem} end
redis.call('HSET', k_item(id), 'expires', now + seconds)
redis.call('ZADD', K_LEASES, now + seconds, id)
return {'ok', tostring(now + seconds)}
