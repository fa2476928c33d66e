-- Neovim 0.11 with the README's Lua as init.lua, driven by real keystrokes against the real
-- `codehearth serve`. Run by tests/editors/test_neovim_typing.py:
--   MODE=<mode> nvim --headless -u init.lua -i NONE -c "luafile nvim_typing.lua" calc.py
-- MODE=body:  on the blank line in add()'s body, `A` then <C-x><C-o> (the README's keys):
--             the omnifunc inserts CodeHearth's suggestion.
-- MODE=typed: on that line, `A`, type $TYPE (e.g. `return max(`) key by key, <C-x><C-o>.
-- MODE=chat:  `V` on add()'s two lines, then vim.lsp.buf.code_action() picking
--             "CodeHearth: Explain" (a filter, applied: what choosing it from `gra`'s menu
--             does); then the two lines selected again and `:CodeHearthAsk $QUESTION` typed
--             on the command line (`:'<,'>CodeHearthAsk ...`). Both answers ($ANSWER) must
--             stream into the README's chat buffer.
-- Then <Esc> and `:w`. Prints "STEP ..." lines, "BUFFER <json>" (calc.py's lines) and, for
-- chat, "CHAT <json>" (the chat buffer's lines); exits 0 when every step worked.
local function out(s) io.stdout:write(s .. "\n") io.stdout:flush() end

local main_co
local function resume()
  local ok, err = coroutine.resume(main_co)
  if not ok then
    out("RESULT: FAIL " .. debug.traceback(main_co, tostring(err)))
    vim.cmd("cquit!")
  end
end
local function sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end
-- Poll `condition` while the editor runs (keys typed meanwhile are processed).
local function wait_for(condition, timeout_ms)
  local waited = 0
  while not condition() do
    if waited >= timeout_ms then return false end
    sleep(50)
    waited = waited + 50
  end
  return true
end
-- Keys go through the typeahead as if typed (nvim_input), one call per key for text.
local function press(keys)
  vim.api.nvim_input(keys)
  sleep(80)
end
local function type_text(text)
  for char in text:gmatch(".") do press(char) end
end

local function lines(buf) return vim.api.nvim_buf_get_lines(buf, 0, -1, false) end

local function main()
  local mode = assert(os.getenv("MODE"), "MODE is not set")
  local v = vim.version()
  out(("STEP nvim %d.%d.%d, MODE=%s"):format(v.major, v.minor, v.patch, mode))
  local buf = vim.api.nvim_get_current_buf()
  local client
  assert(wait_for(function()
    client = vim.lsp.get_clients({ name = "codehearth", bufnr = buf })[1]
    return client ~= nil and client.initialized
  end, 20000), "the README config attached no initialized codehearth client within 20 s")
  out(("STEP attached; omnifunc=%s completeopt=%s autoindent=%s"):format(
    vim.bo[buf].omnifunc, vim.o.completeopt, tostring(vim.bo[buf].autoindent)))

  if mode == "body" or mode == "typed" then
    local before = table.concat(lines(buf), "\n")
    press("6G")
    press("A")
    if mode == "typed" then type_text(assert(os.getenv("TYPE"), "TYPE is not set")) end
    out("STEP typed: " .. vim.inspect(vim.api.nvim_get_current_line()))
    local typed = table.concat(lines(buf), "\n")
    press("<C-x><C-o>")
    local inserted = wait_for(function()
      return table.concat(lines(buf), "\n") ~= typed
    end, 20000)
    sleep(300)  -- let the completion finish inserting
    out("STEP mode after <C-x><C-o>: " .. vim.api.nvim_get_mode().mode)
    press("<Esc>")
    press(":w<CR>")
    out("BUFFER " .. vim.json.encode(lines(buf)))
    assert(inserted, "nothing was inserted within 20 s of <C-x><C-o>")
    assert(table.concat(lines(buf), "\n") ~= before, "the buffer did not change")
  elseif mode == "chat" then
    press("5G")
    press("V")
    press("j")
    press("<Cmd>lua vim.lsp.buf.code_action({ apply = true, filter = function(a)"
      .. " return a.title == 'CodeHearth: Explain' end })<CR>")
    local chat
    local function chat_text()
      for _, b in ipairs(vim.api.nvim_list_bufs()) do
        if vim.api.nvim_buf_get_name(b):match("CodeHearth Chat$") then chat = b end
      end
      return chat and table.concat(lines(chat), "\n") or ""
    end
    local answer = os.getenv("ANSWER")
    assert(wait_for(function() return chat_text():find(answer, 1, true) ~= nil end, 30000),
      "no Explain answer in a 'CodeHearth Chat' buffer within 30 s; buffers: "
        .. vim.inspect(vim.tbl_map(vim.api.nvim_buf_get_name, vim.api.nvim_list_bufs())))
    out("STEP Explain answered in the chat buffer, shown in window "
      .. vim.fn.bufwinid(chat))
    press("<Esc>")
    local _, count = chat_text():gsub(vim.pesc(answer), "")
    press("5G")
    press("V")
    press("j")
    press(":")
    type_text("CodeHearthAsk " .. os.getenv("QUESTION"))
    press("<CR>")
    assert(wait_for(function()
      local _, now = chat_text():gsub(vim.pesc(answer), "")
      return now > count
    end, 30000), "no answer to :CodeHearthAsk within 30 s")
    out("STEP :CodeHearthAsk answered")
    out("CHAT " .. vim.json.encode(lines(chat)))
    assert(vim.fn.bufwinid(chat) ~= -1, "the chat buffer is not shown in a window")
  else
    error("unknown MODE " .. mode)
  end
  client:stop()
  wait_for(function() return vim.lsp.get_client_by_id(client.id) == nil end, 5000)
  out("RESULT: PASS")
  vim.cmd("qall!")
end

main_co = coroutine.create(main)
vim.schedule(resume)
