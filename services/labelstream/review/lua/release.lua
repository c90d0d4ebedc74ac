-- A reviewer hands their item back unanswered (they close the page, quit the terminal): it returns
-- to the queue now rather than when the lease would end, and, unlike a skip, may come back to them.
-- ARGV: prefix, id, reviewer, lease, now. Reply: {'ok'} or {'conflict', why}.
local id, reviewer, lease, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
id = resolve(id, lease)  -- a gold instance's shown id, under its lease: its key (prelude.lua)
local problem = lease_problem(id, reviewer, lease, now)
if problem then return {'conflict', problem} end
release_holding(reviewer, id)
requeue(id)
return {'ok'}
