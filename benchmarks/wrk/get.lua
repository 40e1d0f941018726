-- wrk script: GET /hello/<random existing user>.
package.path = (os.getenv("WRK_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local common = require("common")

request = function()
  return wrk.format("GET", "/hello/" .. common.name(math.random(common.users)))
end

done = common.done
