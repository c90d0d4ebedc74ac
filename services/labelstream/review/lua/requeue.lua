-- Admin: take leased items back from their holders (a reviewer who left the page open keeps an item
-- by heartbeats); they return to the queue now. The holder's next call on them is a 409.
-- ARGV: prefix, ids... Reply: how many were held.
local requeued = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local state, holder = unpack(redis.call('HMGET', k_item(id), 'state', 'holder'))
  if state == 'leased' then
    if holder then release_holding(holder, id) end
    requeue(id)
    requeued = requeued + 1
  end
end
return requeued
