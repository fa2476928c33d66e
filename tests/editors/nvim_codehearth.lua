-- Neovim (Debian 0.7.2 and later) driven headless against the real `codehearth serve`.
-- Run by tests/editors/test_real_editors.py:
--   CODEHEARTH=<path to codehearth> CODEHEARTH_LOG=<server log> \
--   nvim --headless --clean -c "luafile nvim_codehearth.lua" calc.py
-- Round trip 1: textDocument/completion (0.7 has no inline completion, so CodeHearth offers
--   its suggestion as one completion item); its textEdit is applied as a completion plugin
--   does, and the file is written.
-- Round trip 2: textDocument/codeAction with a diagnostic in context.diagnostics (as a
--   linter would have published it), pick the CodeHearth quick fix, codeAction/resolve,
--   apply the edit with vim.lsp.util.apply_workspace_edit, write the file.
-- Prints "STEP ..." lines; exits 0 only when every step worked.
local function out(s) io.stdout:write(s .. "\n") io.stdout:flush() end

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

  -- 1) completion at the blank line of the function body (line 6, after the indent)
  local td = { uri = vim.uri_from_bufnr(bufnr) }
  local pos = { line = 5, character = 4 }
  local res, err = vim.lsp.buf_request_sync(bufnr, "textDocument/completion",
    { textDocument = td, position = pos, context = { triggerKind = 1 } }, 20000)
  assert(res, "completion request failed: " .. tostring(err))
  local item
  for _, r in pairs(res) do
    assert(not r.err, "completion error: " .. vim.inspect(r.err))
    local items = r.result and (r.result.items or r.result) or {}
    for _, it in ipairs(items) do
      out("STEP completion item: " .. vim.inspect(it.label) .. " detail=" .. tostring(it.detail))
      if it.detail == "CodeHearth" then item = item or it end
    end
  end
  assert(item, "no CodeHearth completion item")
  -- the complete-item Neovim's own omnifunc would show for it
  -- (0.7: vim.lsp.util.text_document_completion_list_to_complete_items; 0.11: vim.lsp.completion)
  local to_items = vim.lsp.util.text_document_completion_list_to_complete_items
    or (vim.lsp.completion and vim.lsp.completion._lsp_to_complete_items)
  if to_items then
    local words = to_items({ item }, "")
    out("STEP omnifunc word: " .. vim.inspect(words[1] and words[1].word))
  end
  -- accept it: apply its textEdit (what omnifunc/nvim-cmp do on confirm), then :write
  if item.textEdit then
    vim.lsp.util.apply_text_edits({ item.textEdit }, bufnr, enc)
  else
    vim.api.nvim_buf_set_text(bufnr, pos.line, pos.character, pos.line, pos.character,
      vim.split(item.insertText or item.label, "\n"))
  end
  vim.cmd("write")
  out("STEP line 6 after completion: " .. vim.inspect(vim.api.nvim_buf_get_lines(bufnr, 5, 6, false)[1]))

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

local ok, e = xpcall(main, debug.traceback)
if ok then
  out("RESULT: PASS")
  vim.cmd("qall!")
else
  out("RESULT: FAIL " .. tostring(e))
  vim.cmd("cquit!")
end
