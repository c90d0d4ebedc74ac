-- Publish an overlap item's consensus, atomically with the consensus state that produced it.
-- ARGV: prefix, id, correction JSON (without answer_id), number of answers it consolidates, done keep
-- seconds, consensus state key, consensus state JSON, record key, record keep seconds, the item's
-- 'rev' when its answers were read ('' for none: no answer corrected).
-- Reply: {'ok', answer_id}, or {'stale'} when the item changed since its answers were read.
local id, raw, n = ARGV[2], ARGV[3], tonumber(ARGV[4])
local keep, state_key, state_json = tonumber(ARGV[5]), ARGV[6], ARGV[7]
local rec_key, rec_keep, rev = ARGV[8], tonumber(ARGV[9]), ARGV[10]
local item = k_item(id)
if redis.call('HGET', item, 'state') ~= 'consolidating' or redis.call('HLEN', k_answers(id)) ~= n then return {'stale'} end
if (redis.call('HGET', item, 'rev') or '') ~= rev then return {'stale'} end
local answer_id = id .. '#' .. redis.call('HINCRBY', item, 'seq', 1)
redis.call('RPUSH', K_OUTBOX, with_answer_id(raw, answer_id))
redis.call('HSET', item, 'consensus_id', answer_id, 'consensus_label', cjson.decode(raw).label)
redis.call('ZREM', K_CONSOLIDATING, id)
redis.call('ZREM', P .. ':review:adjudicating', id)
finish(id, keep)
redis.call('SET', state_key, state_json)
keep_joinable(id, rec_key, rec_keep)
return {'ok', answer_id}
