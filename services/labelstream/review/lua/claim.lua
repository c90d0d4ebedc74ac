-- The next item for a reviewer, leased to them: the best-ranked item they have neither answered
-- nor skipped; for an expert, the experts' queue first (items a reviewer was not sure of). A reviewer
-- holds one item at a time: claiming again returns the held item (a page reload) with its lease
-- renewed. Expired leases are reaped first. A gold item offered (review/gold.py) is leased instead of the
-- item found, as a new item (the gold instance), unless it was deleted or served to this reviewer meanwhile;
-- with no item for the reviewer, no gold item either.
-- ARGV: prefix, reviewer, new lease, now, lease seconds, scan limit of the seen queue, '1' for an expert,
-- then for a gold offer: instance id, gold id, its label, the request JSON without record and timestamp, the
-- record's own fields JSON (features, text).
-- Reply: {status, id, lease, expires, request, needed, reaped} with status claimed | held, or {'empty', reaped}.
local reviewer, lease = ARGV[2], ARGV[3]
local now, seconds, limit, expert = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local reaped = reap(now, 1000)

local held = redis.call('GET', k_holding(reviewer))
if held then
  local state, holder = unpack(redis.call('HMGET', k_item(held), 'state', 'holder'))
  if state == 'leased' and holder == reviewer then
    redis.call('HSET', k_item(held), 'expires', now + seconds)
    redis.call('ZADD', K_LEASES, now + seconds, held)
    return item_reply('held', held, reaped)
  end
  redis.call('DEL', k_holding(reviewer))
end

-- The gold offer, leased instead of the real item found (which stays where it is): gold only among real
-- items, so a gold item never comes when the reviewer has nothing else to do. nil when the offer is void.
local instance, gold, truth, gold_head, gold_content = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]

-- What the instance shows (review/gold.py, "Looks"): its own request and record content, with the request time
-- of the real item it replaces and the rest of that item's record (source, timestamp, metadata, a producer's own
-- fields), never that item's id, content or a label. Spliced, not decoded and encoded again: the gold content
-- keeps its digits and its order. What cannot be read or written is left out (the claim must not fail on it).
local OWN = {id = true, features = true, text = true, label = true}
local function gold_request(replaced)
  local read, request = pcall(cjson.decode, redis.call('HGET', k_item(replaced), 'request') or '')
  if not read or type(request) ~= 'table' then request = {} end
  local borrowed, record = {}, request.record
  if type(record) == 'table' then
    for key, value in pairs(record) do
      local written, json = pcall(cjson.encode, value)
      if written and not OWN[key] then borrowed[#borrowed + 1] = ',' .. cjson.encode(key) .. ':' .. json end
    end
  end
  table.sort(borrowed)
  local timestamp = type(request.timestamp) == 'number' and request.timestamp or now
  local shown = '{"id":' .. cjson.encode(instance) .. ',' .. string.sub(gold_content, 2, -2) .. table.concat(borrowed) .. '}'
  return string.sub(gold_head, 1, -2) .. ',"record":' .. shown .. ',"timestamp":' .. cjson.encode(timestamp) .. '}'
end

local function serve_gold(replaced)
  if not instance then return nil end
  local served = P .. ':review:gold:served:' .. reviewer
  if redis.call('SISMEMBER', K_GOLD_IDS, gold) == 0 or redis.call('SISMEMBER', served, gold) == 1
      or redis.call('EXISTS', k_item(instance)) == 1 then
    return nil
  end
  local request = gold_request(replaced)  -- read before any write
  redis.call('SADD', served, gold)
  redis.call('HSET', k_item(instance), 'state', 'leased', 'member', string.format('%020.6f', now) .. '|' .. instance,
    'score', '0', 'needed', 1, 'request', request, 'stored', '', 'enqueued_at', now, 'seq', 0,
    'gold', gold, 'truth', truth)
  lease_to(instance, reviewer, lease, now, seconds)
  return item_reply('claimed', instance, reaped)
end

if expert then  -- the best item of the experts' queue this expert has not seen (answered, skipped, unsure)
  for offset = 0, limit - 1, 100 do
    local batch = redis.call('ZRANGE', K_EXPERT, offset, offset + 99)
    if #batch == 0 then break end
    for _, member in ipairs(batch) do
      if redis.call('SISMEMBER', k_seen(id_of(member)), reviewer) == 0 then
        local golden = serve_gold(id_of(member))
        if golden then return golden end
        redis.call('ZREM', K_EXPERT, member)
        lease_to(id_of(member), reviewer, lease, now, seconds)
        return item_reply('claimed', id_of(member), reaped)
      end
    end
  end
end

-- The top of the fresh queue, and the best item of the seen queue this reviewer may take if it
-- ranks before it (scanned in order; the seen queue holds only overlap and skipped items).
local fresh = redis.call('ZRANGE', K_WAITING, 0, 0, 'WITHSCORES')
local fresh_member, fresh_score = fresh[1], tonumber(fresh[2] or '0')
local pick, from = nil, nil
local offset, stop = 0, false
while not stop and offset < limit do
  local batch = redis.call('ZRANGE', K_AGAIN, offset, offset + 99, 'WITHSCORES')
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local member, score = batch[i], tonumber(batch[i + 1])
    if fresh_member and (score > fresh_score or (score == fresh_score and member > fresh_member)) then
      stop = true
      break
    end
    if redis.call('SISMEMBER', k_seen(id_of(member)), reviewer) == 0 then
      pick, from, stop = member, K_AGAIN, true
      break
    end
  end
  offset = offset + 100
end
if not pick and fresh_member then pick, from = fresh_member, K_WAITING end
if not pick then return {'empty', reaped} end
local golden = serve_gold(id_of(pick))
if golden then return golden end
redis.call('ZREM', from, pick)
local id = id_of(pick)
lease_to(id, reviewer, lease, now, seconds)
return item_reply('claimed', id, reaped)
