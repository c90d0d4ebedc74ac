-- A page of a reviewer's answer history (p:review:recent:<reviewer>, newest first, at most RECENT_MAX), read
-- after a cursor: the record id of the last entry of the previous page, as shown (a gold instance's shown id; ''
-- for the first page). A reviewer answers a record once (an undo takes its entry off the list), so the id marks one
-- place in the list; it stays right while answers are added in front of it and entries are corrected in place.
-- ARGV: prefix, reviewer, cursor, limit.
-- Reply: {'ok', more ('1' or '0'), entry JSON...} or {'conflict', why} when the cursor's entry is gone.
local reviewer, cursor, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local key = k_recent(reviewer)
local start = 0
if cursor ~= '' then
  local found = nil
  local total = redis.call('LLEN', key)
  local chunk = 200
  for offset = 0, total - 1, chunk do
    local entries = redis.call('LRANGE', key, offset, offset + chunk - 1)
    for i, raw in ipairs(entries) do
      local entry = cjson.decode(raw)
      if (entry.shown or entry.id) == cursor then found = offset + i break end
    end
    if found then break end
  end
  if not found then
    return {'conflict', 'that answer is no longer in your history (undone, or older than your last ' .. RECENT_MAX .. ')'}
  end
  start = found
end
local page = redis.call('LRANGE', key, start, start + limit)
local more = #page > limit
local reply = {'ok', more and '1' or '0'}
for i = 1, math.min(#page, limit) do table.insert(reply, page[i]) end
return reply
