#!lua flags=
-- Adds one partition's counters of a closed day or month to the hash summed over every
-- partition, once (`streams.rollup`).
--
-- KEYS[1]  the rolled hash
-- ARGV[1]  the partition's member field, `@<partition>`
-- ARGV[2..] field, count, field, count, ...
--
-- The member field and the counts go in together, so a partition rolled twice (a retry
-- after a crash, a worker that lost the partition, the rebuild after the worker) adds once.
-- Returns 1 if the counts were added, 0 if the partition was already in.
if redis.call('HSETNX', KEYS[1], ARGV[1], 1) == 0 then
  return 0
end
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
