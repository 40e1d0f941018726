-- wrk script: PUT /hello/<random user> {"dateOfBirth": ...} (the seed's MERGE: insert or update).
package.path = (os.getenv("WRK_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local common = require("common")

wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local body = string.format('{"dateOfBirth": "19%02d-%02d-%02d"}', math.random(50, 99), math.random(1, 12), math.random(1, 28))
  return wrk.format("PUT", "/hello/" .. common.name(math.random(common.users)), nil, body)
end

done = common.done
