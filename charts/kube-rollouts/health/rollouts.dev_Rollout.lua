-- Argo CD health check for kube-rollouts' Rollout (rollouts.dev/v1alpha1).
--
-- Install it in argocd-cm under the key `resource.customizations.health.rollouts.dev_Rollout`
-- (the whole file as the value). Argo CD hands the live object in as `obj` and reads back
-- `hs.status` (Healthy, Progressing, Suspended, Degraded, Unknown) and `hs.message`.
--
-- The controller's status is the source of truth; the checks below run from most to least severe:
--   1. no status yet                               -> Progressing (the controller has not seen it)
--   2. condition InvalidSpec=True                  -> Degraded (it will not progress until fixed,
--                                                     even if the controller could not record the
--                                                     latest generation)
--   3. status.observedGeneration < generation      -> Progressing (the shown status is stale)
--   4. status.abort                                -> Degraded (traffic is back on stable)
--   5. status.phase: Degraded -> Degraded, Paused (or pauseConditions) -> Suspended,
--      Progressing -> Progressing, Healthy -> Healthy, anything else -> Unknown.
-- Suspended, not Progressing, for a pause: a paused rollout waits for a person (promote) or a
-- timer, and Argo CD shows it as such instead of as stuck.
--
-- Written for Argo CD's interpreter (gopher-lua, Lua 5.1): no integer division, goto or utf8.

local hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function or_default(message, default)
  if message == nil or message == "" then
    return default
  end
  return message
end

local function pause_reasons(status)
  local reasons = {}
  if status.pauseConditions ~= nil then
    for _, p in ipairs(status.pauseConditions) do
      if p.reason ~= nil and p.reason ~= "" then
        table.insert(reasons, p.reason)
      end
    end
  end
  return table.concat(reasons, ", ")
end

local function verdict(kind, message)
  hs.status = kind
  hs.message = message
  return hs
end

local status = obj.status
if status == nil or (status.phase == nil and status.observedGeneration == nil) then
  return verdict("Progressing", "Waiting for the kube-rollouts controller to report the Rollout's status")
end

local invalid = condition(status, "InvalidSpec")
if invalid ~= nil and invalid.status == "True" then
  local detail = or_default(invalid.message, "the Rollout spec is invalid")
  if string.sub(detail, 1, 12) ~= "InvalidSpec:" then
    detail = "InvalidSpec: " .. detail
  end
  return verdict("Degraded", detail)
end

local generation = tonumber(obj.metadata ~= nil and obj.metadata.generation or nil)
local observed = tonumber(status.observedGeneration)
if generation ~= nil and (observed == nil or observed < generation) then
  local seen = "none"
  if observed ~= nil then
    seen = string.format("%d", observed)
  end
  return verdict(
    "Progressing",
    string.format(
      "Waiting for the controller to observe the latest spec (generation %d, observed %s)",
      generation,
      seen
    )
  )
end

if status.abort == true then
  return verdict("Degraded", or_default(status.message, "Rollout aborted: all traffic is back on the stable version"))
end

local phase = status.phase
if phase == "Degraded" then
  return verdict("Degraded", or_default(status.message, "Rollout is degraded"))
end

local reasons = pause_reasons(status)
if phase == "Paused" or (phase == nil and reasons ~= "") then
  if reasons == "" then
    return verdict("Suspended", or_default(status.message, "Rollout is paused"))
  end
  local message = "Rollout is paused (" .. reasons .. ")"
  if status.message ~= nil and status.message ~= "" and status.message ~= reasons then
    message = message .. ": " .. status.message
  end
  return verdict("Suspended", message)
end

if phase == "Progressing" or phase == nil then
  return verdict("Progressing", or_default(status.message, "Rollout is progressing"))
end

if phase == "Healthy" then
  return verdict("Healthy", or_default(status.message, "Rollout is healthy"))
end

return verdict("Unknown", "Unrecognised status.phase " .. tostring(phase) .. " (is the controller newer than this health check?)")
