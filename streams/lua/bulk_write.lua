#!lua flags=
-- Write a plan's grouped writes with few scripted calls: `apply_unread` of the rebuild.
--
-- KEYS     every key written (all in the partition's hash slot, so this also runs on Redis
--          Cluster).
-- ARGV[1]  JSON array of commands (lua/commands.lua, put before this by streams/store.py)
--
-- Declared flags (none) make Redis refuse the whole script, before any write, while it is
-- over maxmemory: a plan is never written in part.
local commands = cjson.decode(ARGV[1])
local problem = check_commands(commands)
if problem then
  return redis.error_reply('bulk_write: ' .. problem)
end
run_commands(commands)
return #commands
