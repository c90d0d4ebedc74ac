-- A consolidated overlap item whose vote a reviewer corrected since (correct.lua listed it in
-- p:review:reconsolidate), its consensus recomputed by the leader: if the label changed, a retraction of
-- the published consensus and the new consensus enter the outbox, in this order (as an undo and a new
-- answer would); otherwise nothing is published. Either way the item leaves the list.
-- ARGV: prefix, id, the item's 'rev' when its answers were read, new consensus JSON (without answer_id; '' when
-- the label did not change), now, record key, record keep seconds.
-- Reply: {'published', answer_id, retraction answer_id}, {'unchanged'}, or {'stale'} when the item changed
-- since its answers were read (it stays listed).
local id, rev, raw, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local rec_key, rec_keep = ARGV[6], tonumber(ARGV[7])
local K_RECONSOLIDATE = P .. ':review:reconsolidate'
local item = k_item(id)
local state, current, old_id, old_label = unpack(redis.call('HMGET', item, 'state', 'rev', 'consensus_id', 'consensus_label'))
if state ~= 'done' or not old_id then
  redis.call('ZREM', K_RECONSOLIDATE, id)
  return {'unchanged'}
end
if (current or '') ~= rev then return {'stale'} end
redis.call('ZREM', K_RECONSOLIDATE, id)
if raw == '' then return {'unchanged'} end
local entry = cjson.decode(raw)
local retraction = push_retraction(id, old_label, entry.reviewer, old_id, now)
local answer_id = id .. '#' .. redis.call('HINCRBY', item, 'seq', 1)
redis.call('RPUSH', K_OUTBOX, with_answer_id(raw, answer_id))
redis.call('HSET', item, 'consensus_id', answer_id, 'consensus_label', entry.label)
keep_joinable(id, rec_key, rec_keep)
return {'published', answer_id, retraction}
