-- The next item for a reviewer, leased to them: the best-ranked item they have neither answered
-- nor skipped; for an expert, the experts' queue first (items a reviewer was not sure of). A reviewer
-- holds one item at a time: claiming again returns the held item (a page reload) with its lease
-- renewed. Expired leases are reaped first. A gold item offered (review/gold.py) is leased instead of the
-- item found, as a new item (the gold instance), unless it was deleted or served to this reviewer meanwhile;
-- with no item for the reviewer, no gold item either.
-- ARGV: prefix, reviewer, new lease, now, lease seconds, scan limit of the seen queue, '1' for an expert, the
-- reviewers' counter's exact_below and step (review/queue_counter.py), then for a gold offer: instance key, gold id,
-- its label, the request JSON without id, record and timestamp, the record's own fields JSON (features, text).
-- A gold offer is used only in place of a plain item (no badge, no notes: plain() below), and only where the
-- waiting count reviewers see would read the same after a real claim (hidden_on_counter() below).
-- Reply: {status, id as shown, lease, expires, request, needed, reaped, key} with status claimed | held, or
-- {'empty', reaped}.
local reviewer, lease = ARGV[2], ARGV[3]
local now, seconds, limit, expert = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local reaped = reap(now, 1000)

local held = redis.call('GET', k_holding(reviewer))
if held then
  local state, holder = unpack(redis.call('HMGET', k_item(held), 'state', 'holder'))
  if state == 'leased' and holder == reviewer then
    extend_lease(held, now + seconds)
    return item_reply('held', held, reaped)
  end
  redis.call('DEL', k_holding(reviewer))
end

-- The gold offer, leased instead of the real item found (which stays where it is): gold only among real
-- items, so a gold item never comes when the reviewer has nothing else to do. nil when the offer is void.
local exact_below, step = tonumber(ARGV[8]), tonumber(ARGV[9])
local instance, gold, truth, gold_head, gold_content = ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]

-- What the instance shows (review/gold.py, "Looks"): its own request and record content, with the request time
-- of the real item it replaces and the rest of that item's record (source, timestamp, metadata, a producer's own
-- fields), never that item's id, content or a label. Spliced, not decoded and encoded again: the gold content
-- keeps its digits and its order. What cannot be read or written is left out (the claim must not fail on it).
local OWN = {id = true, features = true, text = true, label = true}
local function gold_request(replaced, shown_as)
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
  local id = '{"id":' .. cjson.encode(shown_as)
  local record = id .. ',' .. string.sub(gold_content, 2, -2) .. table.concat(borrowed) .. '}'
  return id .. ',' .. string.sub(gold_head, 2, -2) .. ',"record":' .. record .. ',"timestamp":' .. cjson.encode(timestamp) .. '}'
end

-- The id the instance is shown under (review/gold.py, "Shown id"), shaped like the replaced item's id: the same
-- length, punctuation and words, its varying characters drawn again. Varying: in an id of at least 12 hex digits and
-- dashes alone with a digit and a letter (a UUID, a digest), every hex digit, from the 16 of its case (not digit for
-- digit: the next id shown, often the replaced one, would share its pattern of digits and letters), but a UUID's
-- version kept, its variant drawn among 8, 9, a, b and, for the time-ordered versions 6 and 7, its first 8 digits
-- kept; else, of the runs of letters and digits: the last one holding a digit, if a counter (digits alone, or after
-- letters: "17", "web07"), the trailing half of its digits (the leading half kept: the shown number is near the
-- replaced one; numbers before it, a date or a shard, stay); a run mixing letters and digits otherwise (a random
-- token) every character, from the digits and the letters of the case(s) it shows (a-f if hex); words stay
-- ("feed-42" is a word and a counter). An id without a digit has its last word drawn again, letter for letter of the
-- same case. The draws are uniform (rejection sampling) over the SHA-1 of the instance key, secret and random, and
-- the attempt number: one per instance.
local function drawer(seed)
  local n, digest, at = 0, '', 1
  return function(k)  -- uniform in 0 .. k - 1
    local limit = 256 - 256 % k
    while true do
      if at > #digest then n, at = n + 1, 1; digest = redis.sha1hex(seed .. '#' .. n) end
      local byte = tonumber(string.sub(digest, at, at + 1), 16)
      at = at + 2
      if byte < limit then return byte % k end
    end
  end
end

local DIGITS, LOWER, UPPER = '0123456789', 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'

-- Hex digits (and dashes) alone, a digit and a letter among them, of one case.
local function hex_token(token)
  return string.find(token, '^[%x%-]+$') and string.find(token, '%d') and string.find(token, '%a')
    and not (string.find(token, '%l') and string.find(token, '%u'))
end

-- The alphabet a random token is drawn from: digits, and the letters (a-f for hex) of the case(s) it shows.
local function alphabet_of(token, hex)
  local lower, upper = string.find(token, '%l'), string.find(token, '%u')
  if hex then return DIGITS .. (upper and 'ABCDEF' or 'abcdef') end
  return DIGITS .. (lower and LOWER or '') .. (upper and UPPER or '')
end

local UUID = '^' .. string.rep('%x', 8) .. '%-' .. string.rep('%x', 4) .. '%-' .. string.rep('%x', 4) .. '%-'
  .. string.rep('%x', 4) .. '%-' .. string.rep('%x', 12) .. '$'

local function shaped_like(id, seed)
  local draw = drawer(seed)
  local function from(alphabet) return function()
    local i = draw(#alphabet) + 1
    return string.sub(alphabet, i, i)
  end end
  if hex_token(id) and #string.gsub(id, '%-', '') >= 12 then  -- a UUID, a digest, an object id
    local shaped = string.gsub(id, '%x', from(alphabet_of(id, true)))
    if string.find(id, UUID) then  -- every real UUID of its kind has them: its version, its variant (8, 9, a, b)
      local version, variant = string.sub(id, 15, 15), string.sub(shaped, 20, 20)
      if string.find('89abAB', string.sub(id, 20, 20), 1, true) then
        variant = from(string.find(id, '%u') and '89AB' or '89ab')()
      end
      local keep = (version == '6' or version == '7') and 8 or 0  -- time first: the stream's neighbours share it
      shaped = string.sub(id, 1, keep) .. string.sub(shaped, keep + 1, 14) .. version .. string.sub(shaped, 16, 19)
        .. variant .. string.sub(shaped, 21)
    end
    return shaped
  end
  if not string.find(id, '%d') then
    local head, run, tail = string.match(id, '^(.-)(%a+)([^%a]*)$')
    if not run then return nil end
    local lower, upper = from(LOWER), from(UPPER)
    return head .. string.gsub(run, '%a', function(char) return string.find(char, '%l') and lower() or upper() end)
      .. tail
  end
  local last = 0  -- where the last run holding a digit starts
  for start, run in string.gmatch(id, '()(%w+)') do
    if string.find(run, '%d') then last = start end
  end
  return (string.gsub(id, '()(%w+)', function(start, run)
    local word, number = string.match(run, '^(%a*)(%d+)$')
    if number and start ~= last then return run end  -- an earlier number (a date, a shard) neighbours share
    if number then  -- the counter, alone or after a word ("web07"): its leading half kept
      local keep = #word + math.floor(#number / 2)
      return string.sub(run, 1, keep) .. string.gsub(string.sub(run, keep + 1), '%d', from(DIGITS))
    end
    if not string.find(run, '%d') then return run end
    return (string.gsub(run, '%w', from(alphabet_of(run, hex_token(run)))))
  end))
end

-- Of up to 48 shaped ids, the first the queue does not know and no earlier gold item was shown to this reviewer
-- under (p:review:gold:shown_ids:<reviewer>: the same id twice, with other content, would tell one of them gold)
-- whose counter, if it has one, the stream has reached (not above the highest counter of its shape the ingest saw,
-- nor the replaced id's: a record of a counter ahead of it would come later with that id); else the first such id
-- ahead of it; else the first this reviewer has not seen (a real record of that id answered or skipped by them would
-- show its id twice); else the first shaped one all the same (a short counter whose neighbours they all answered: an
-- id seen twice is a smaller tell than a key); else the instance key (an id with nothing to draw: no letter, no digit).
local function shown_for(replaced, shown_ids)
  local unseen, shaped, ahead = nil, nil, nil
  local shape, reached = id_counter(replaced)  -- counters of one shape have one length: compared as strings
  local highest = shape and redis.call('GET', k_counter_max(shape))
  if highest and highest > reached then reached = highest end
  for attempt = 1, 48 do  -- 48: with a one-digit counter (9 ids) and 7 shown, all taken (7/9)^48 = 6e-6
    local candidate = shaped_like(replaced, instance .. '|' .. attempt)
    if candidate and candidate ~= replaced then
      local fresh = redis.call('SISMEMBER', shown_ids, candidate) == 0
      if fresh and redis.call('EXISTS', k_item(candidate)) == 0 then
        local _, counter = id_counter(candidate)
        if not (reached and counter and counter > reached) then return candidate end
        ahead = ahead or candidate
      end
      if not unseen and fresh and redis.call('SISMEMBER', k_seen(candidate), reviewer) == 0 then unseen = candidate end
      shaped = shaped or candidate
    end
  end
  return ahead or unseen or shaped or instance
end

-- Gold only in place of a plain item: an item with a badge or notes (overlap, "for an expert", "no expert took it",
-- skip notes) would be replaced by one without them, a difference an expert working the experts' line, or anyone
-- where most items are overlap items, could see. The claim serves that real item instead; the offer is not used.
local function plain(id)
  local needed, expert_flag, no_expert, notes = unpack(redis.call('HMGET', k_item(id), 'needed', 'expert', 'no_expert',
    'skip_notes'))
  return tonumber(needed or '1') <= 1 and not expert_flag and not no_expert and not notes
end

-- A gold claim leaves the waiting count as it is, a real claim lowers it by one: gold only where the counter reviewers
-- see (QueueCounter.shown: exact below exact_below, else rounded down to the step) reads the same either way.
local function hidden_on_counter()
  local function shown(count)
    if count < exact_below then return count .. '' end
    return (count - count % step) .. '+'
  end
  local count = redis.call('ZCARD', K_WAITING) + redis.call('ZCARD', K_AGAIN)  -- QueueView.counts().waiting
  return count > 0 and shown(count) == shown(count - 1)
end

local function serve_gold(replaced)
  if not instance or not plain(replaced) or not hidden_on_counter() then return nil end
  local served = P .. ':review:gold:served:' .. reviewer
  if redis.call('SISMEMBER', K_GOLD_IDS, gold) == 0 or redis.call('SISMEMBER', served, gold) == 1
      or redis.call('EXISTS', k_item(instance)) == 1 then
    return nil
  end
  local shown_ids = P .. ':review:gold:shown_ids:' .. reviewer  -- as `served`, at most one member a gold item
  local shown = shown_for(replaced, shown_ids)
  local request = gold_request(replaced, shown)  -- read before any write
  redis.call('SADD', served, gold)
  redis.call('SADD', shown_ids, shown)
  redis.call('HSET', k_item(instance), 'state', 'leased', 'member', string.format('%020.6f', now) .. '|' .. instance,
    'score', '0', 'needed', 1, 'request', request, 'stored', '', 'enqueued_at', now, 'seq', 0,
    'gold', gold, 'truth', truth, 'shown', shown)
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
