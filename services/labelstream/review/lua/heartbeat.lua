-- Extend a live lease. ARGV: prefix, id, reviewer, lease, now, lease seconds.
-- Reply: {'ok', expires} or {'conflict', why}.
local id, reviewer, lease = ARGV[2], ARGV[3], ARGV[4]
id = resolve(id, lease)  -- a gold instance's shown id, under its lease: its key (prelude.lua)
local now, seconds = tonumber(ARGV[5]), tonumber(ARGV[6])
local problem = lease_problem(id, reviewer, lease, now)
if problem then return {'conflict', problem} end
extend_lease(id, now + seconds)
return {'ok', tostring(now + seconds)}
