-- Return the items of expired leases to the queue. ARGV: prefix, now. Reply: how many.
return reap(tonumber(ARGV[2]), 10000)
