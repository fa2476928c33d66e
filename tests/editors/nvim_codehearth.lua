-- Neovim (Debian 0.7.2 and later) driven headless against the real `codehearth serve`.
-- Run by tests/editors/test_real_editors.py:
--   CODEHEARTH=<path to codehearth> CODEHEARTH_LOG=<server log> \
--   nvim --headless --clean -c "luafile nvim_codehearth.lua" calc.py
-- Round trip 1: textDocument/completion (0.7 has no inline completion, so CodeHearth offers
--   its suggestion as one completion item): `A` on the blank line of add()'s body, then
--   <C-x><C-o> typed, as the user would (Neovim's own vim.lsp.omnifunc inserts the item;
--   on 0.7 the config sets 'omnifunc' as 0.7's docs say), <Esc> and the file is written.
-- Round trip 2: textDocument/codeAction with a diagnostic in context.diagnostics (as a
--   linter would have published it), pick the CodeHearth quick fix, codeAction/resolve,
--   apply the edit with vim.lsp.util.apply_workspace_edit, write the file.
-- Prints "STEP ..." lines; exits 0 only when every step worked.
local function out(s) io.stdout:write(s .. "\n") io.stdout:flush() end

-- main runs as a coroutine that yields to the editor while it waits, so that the keys it
-- types (nvim_input) are processed as typed keys are.
local main_co
local function sleep(ms)
  vim.defer_fn(function() assert(coroutine.resume(main_co)) end, ms)
  coroutine.yield()
end
local function press(keys)
  vim.api.nvim_input(keys)
  sleep(80)
end

-- 0.11 deprecates the dot form client.request_sync(...) for client:request_sync(...)
local function request_sync(client, method, params, timeout, bufnr)
  if vim.fn.has("nvim-0.11") == 1 then return client:request_sync(method, params, timeout, bufnr) end
  return client.request_sync(method, params, timeout, bufnr)
end

local function main()
  vim.lsp.set_log_level("debug")  -- rpc traffic in $XDG_CACHE_HOME/nvim/lsp.log, for failures
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = "python"
  local v = vim.version()
  out(("STEP nvim %d.%d.%d"):format(v.major, v.minor, v.patch))

  local client_id
  if os.getenv("CODEHEARTH_README") then
    -- Neovim 0.11+: the README's config was loaded verbatim as init.lua (-u); vim.lsp.enable
    -- started `codehearth serve` for this python buffer. Find that client.
    local attached = vim.wait(20000, function()
      local cs = vim.lsp.get_clients({ name = "codehearth", bufnr = bufnr })
      client_id = cs[1] and cs[1].id
      return client_id ~= nil
    end, 50)
    assert(attached, "the README config attached no codehearth client within 20 s")
    out("STEP README config attached client " .. client_id)
  else
    -- vim.lsp.start() arrives in 0.8 and vim.lsp.config/enable in 0.11: on 0.7 the README's
    -- config is expressed with start_client + buf_attach_client (same cmd and init_options).
    client_id = vim.lsp.start_client({
      name = "codehearth",
      cmd = { os.getenv("CODEHEARTH"), "serve", "--log-file", os.getenv("CODEHEARTH_LOG"),
              "--log-level", "DEBUG" },
      root_dir = vim.fn.getcwd(),
      init_options = { completion = { model = "qwen2.5-coder:1.5b-base" } },
    })
    assert(client_id, "start_client failed")
    vim.lsp.buf_attach_client(bufnr, client_id)
  end
  local ready = vim.wait(20000, function()
    local c = vim.lsp.get_client_by_id(client_id)
    return c ~= nil and c.initialized
  end, 50)
  assert(ready, "client did not initialize within 20 s")
  local client = vim.lsp.get_client_by_id(client_id)
  local enc = client.offset_encoding or "utf-16"
  local caps = client.config.capabilities or {}
  out("STEP client advertises inlineCompletion: "
      .. tostring((caps.textDocument or {}).inlineCompletion ~= nil))
  out("STEP initialized, server " .. vim.inspect(client.server_capabilities.completionProvider ~= nil
      and "offers textDocument/completion" or "has NO completionProvider"))
  assert(client.server_capabilities.completionProvider, "no completion fallback advertised")

  -- 1) completion at the blank line of the function body (line 6, after the indent): typed
  if vim.fn.has("nvim-0.11") == 0 then vim.bo[bufnr].omnifunc = "v:lua.vim.lsp.omnifunc" end
  out("STEP omnifunc=" .. vim.bo[bufnr].omnifunc)
  local td = { uri = vim.uri_from_bufnr(bufnr) }
  press("6G")
  press("A")
  press("<C-x><C-o>")
  local waited = 0
  while vim.api.nvim_buf_get_lines(bufnr, 5, 6, false)[1] == "    " and waited < 20000 do
    sleep(50)
    waited = waited + 50
  end
  sleep(200)
  press("<Esc>")
  press(":w<CR>")
  out("STEP line 6 after <C-x><C-o>: " .. vim.inspect(vim.api.nvim_buf_get_lines(bufnr, 5, 6, false)[1]))

  -- 2) code action for the unused import (F401 at 1:8-1:10)
  local diagnostic = {
    range = { start = { line = 0, character = 7 }, ["end"] = { line = 0, character = 9 } },
    message = "`os` imported but unused", code = "F401", source = "ruff", severity = 1,
  }
  local ca, cerr = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", {
    textDocument = td,
    range = { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = 0 } },
    context = { diagnostics = { diagnostic } },
  }, 20000)
  assert(ca, "codeAction request failed: " .. tostring(cerr))
  local action
  for _, r in pairs(ca) do
    for _, a in ipairs(r.result or {}) do
      out("STEP code action: " .. a.title .. " kind=" .. tostring(a.kind))
      if a.kind == "quickfix.codehearth" then action = action or a end
    end
  end
  assert(action, "no CodeHearth quick fix offered")
  if not action.edit and not action.command then
    local provider = client.server_capabilities.codeActionProvider
    assert(type(provider) == "table" and provider.resolveProvider, "server cannot resolve")
    local resolved = request_sync(client, "codeAction/resolve", action, 40000, bufnr)
    assert(resolved and not resolved.err, "resolve failed: " .. vim.inspect(resolved))
    action = resolved.result
    out("STEP resolved: edit=" .. tostring(action.edit ~= nil))
  end
  if action.edit then
    vim.lsp.util.apply_workspace_edit(action.edit, enc)
  elseif action.command then  -- a client without resolveSupport gets codehearth.applyAction
    local cmd = type(action.command) == "table" and action.command or action
    local r = request_sync(client, "workspace/executeCommand",
      { command = cmd.command, arguments = cmd.arguments }, 40000, bufnr)
    out("STEP executeCommand: " .. vim.inspect(r and r.result))
  end
  assert(action.edit or action.command, "the quick fix came back without an edit (see server log)")
  vim.cmd("write")
  out("STEP line 1 after quick fix: " .. vim.inspect(vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1]))

  if vim.fn.has("nvim-0.11") == 1 then client:stop() else vim.lsp.stop_client(client_id) end
  vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)
end

main_co = coroutine.create(function()
  local ok, e = xpcall(main, debug.traceback)
  if ok then
    out("RESULT: PASS")
    vim.cmd("qall!")
  else
    out("RESULT: FAIL " .. tostring(e))
    vim.cmd("cquit!")
  end
end)
vim.schedule(function() assert(coroutine.resume(main_co)) end)
