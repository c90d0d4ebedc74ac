-- Second reviews (label_errors): an answered item whose answer a confident model contradicted goes to
-- one more reviewer, as an overlap item that already holds the flagged answer; consolidated as usual
-- (a disagreement is adjudicated). Idempotent: a replayed request changes nothing.
-- ARGV: prefix, now, record keep seconds, n, then n groups of: id, member, score, request JSON,
-- stored JSON, flagged answer_id, its reviewer, its label, record key.
-- Reply: how many items were reopened (or recreated).
local now, rec_keep, n = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local reopened = 0
for i = 0, n - 1 do
  local a = 5 + i * 9
  local id, member, score, request, stored = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local answer_id, reviewer, label, rec_key = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]
  local item = k_item(id)
  local state, second = unpack(redis.call('HMGET', item, 'state', 'second_review'))
  if second == answer_id then
    -- a replay: reopened already
  elseif not state then
    -- forgotten (review.done_keep_seconds) or never queued here: a new item holding the flagged answer
    local seq = tonumber(string.match(answer_id, '#(%d+)$') or '0')
    redis.call('HSET', item, 'state', 'waiting', 'member', member, 'score', score, 'needed', 2, 'request', request,
      'stored', stored, 'enqueued_at', now, 'seq', seq, 'second_review', answer_id)
    redis.call('HSET', k_answers(id), reviewer, cjson.encode({label = label, answer_id = answer_id, n = seq, at = now}))
    redis.call('SADD', k_seen(id), reviewer)
    requeue(id)
    keep_joinable(id, rec_key, rec_keep)
    reopened = reopened + 1
  elseif state == 'done' then
    local answer = redis.call('HGET', k_answers(id), reviewer)
    -- only while the flagged answer stands (an undo and a new answer make it moot)
    if answer and cjson.decode(answer).answer_id == answer_id then
      for _, key in ipairs({item, k_answers(id), k_seen(id)}) do redis.call('PERSIST', key) end
      redis.call('HSET', item, 'needed', redis.call('HLEN', k_answers(id)) + 1, 'second_review', answer_id,
        'request', request, 'score', score)
      redis.call('HDEL', item, 'adjudicated')
      requeue(id)
      keep_joinable(id, rec_key, rec_keep)
      reopened = reopened + 1
    end
  end
end
return reopened
