// One row per property, drawn by its kind: number with unit, dial as a slider, switch as
// a toggle, button, text input, enum select, image, event. A command goes to the owner and
// the row shows the owner's answer: its new state (and "applied as …" when the hardware
// did what it could rather than exactly what was asked), or its error next to the control.
import { h, clear } from "./dom.js";
import { formatNumber, formatValue, label, ago } from "./format.js";
import { api } from "./api.js";

const QUIET_ERRORS = new Set(["superseded"]);

export function propertyRow(store, device, prop, spec) {
  const errorEl = h("div.prop-error", { role: "alert", hidden: true });
  const noteEl = h("div.prop-note", { role: "status", hidden: true });
  const row = h("div.prop", { dataset: { prop, kind: spec.kind } });
  let pending = 0;

  const showError = (error) => {
    if (!error || QUIET_ERRORS.has(error.code)) return;
    errorEl.textContent = `${error.message || error.code}`;
    errorEl.hidden = false;
    row.classList.add("has-error");
  };
  const clearError = () => {
    errorEl.hidden = true;
    errorEl.textContent = "";
    row.classList.remove("has-error");
  };
  const showApplied = (verdict) => {
    const adjusted = verdict.adjusted || {};
    const shown = prop in adjusted;
    noteEl.textContent = shown ? `applied as ${formatValue(adjusted[prop], spec)}` : "";
    noteEl.hidden = !shown;
  };
  const send = async (value) => {
    pending += 1;
    row.classList.add("pending");
    const verdict = await api.set(device.ref, { [prop]: value });
    pending -= 1;
    if (!pending) row.classList.remove("pending");
    if (verdict.status === "ok") { clearError(); showApplied(verdict); }
    else { showApplied({}); showError(verdict.error || { message: verdict.status }); }
    if (verdict.status !== "ok") control.update(store.devices.get(device.ref)?.state?.[prop]);
    return verdict;
  };

  const control = makeControl(store, device, prop, spec, send);
  const name = label(prop, spec);
  for (const input of control.el.matches("input, select, button") ? [control.el] : control.el.querySelectorAll("input, select")) {
    if (!input.getAttribute("aria-label")) input.setAttribute("aria-label", name);
  }
  row.append(h("span.prop-label", { text: name }), control.el, noteEl, errorEl);
  control.update(device.state?.[prop]);
  return {
    el: row,
    update(value) { control.update(value); },
    error(error) { if (!error.id || !pending) showError(error); },
    blob(version) { control.blob && control.blob(version); },
    event(event) { control.event && control.event(event); },
  };
}

function makeControl(store, device, prop, spec, send) {
  const settable = spec.settable;
  switch (spec.kind) {
    case "number":
      return settable ? dial(spec, send) : readout(spec);
    case "switch":
      return settable ? toggle(send) : readout(spec);
    case "button":
      return pushButton(spec, prop, send);
    case "text":
      return settable ? textInput(spec, send) : readout(spec);
    case "enum":
      return settable ? select(spec, send) : readout(spec);
    case "image":
      return image(device, prop, store);
    case "event":
      return lastEvent();
    default:
      return readout(spec);
  }
}

function readout(spec) {
  const el = h("span.value");
  return { el, update(value) { el.textContent = formatValue(value, spec); el.classList.toggle("on", spec.kind === "switch" && value === true); } };
}

// A dial: a slider for the hand and a number box for the exact value; what the owner
// reports wins once the hand is off the slider.
function dial(spec, send) {
  const min = spec.min ?? 0;
  const max = spec.max ?? 100;
  const step = spec.step ?? "any";
  const slider = h("input.slider", { type: "range", min, max, step });
  const box = h("input.number", { type: "number", min, max, step, inputmode: "decimal" });
  const shown = h("span.value");
  let dragging = false;
  let timer = null;
  const sendNow = () => { clearTimeout(timer); timer = null; send(Number(slider.value)); };
  slider.addEventListener("pointerdown", () => { dragging = true; });
  slider.addEventListener("input", () => {
    box.value = slider.value;
    if (!timer) timer = setTimeout(sendNow, 250);   // follow the hand, a few times a second
  });
  slider.addEventListener("change", () => { dragging = false; sendNow(); });
  box.addEventListener("change", () => {
    if (box.value === "") return;
    send(Number(box.value));
  });
  const el = h("span.dial", slider, box, shown);
  return {
    el,
    update(value) {
      shown.textContent = formatValue(value, spec);
      if (value === null || value === undefined) return;
      if (!dragging && !timer) slider.value = value;
      if (document.activeElement !== box) box.value = formatNumber(value, spec);
    },
  };
}

function toggle(send) {
  const input = h("input", { type: "checkbox", role: "switch" });
  const el = h("label.switch", input, h("span.track"));
  input.addEventListener("change", () => send(input.checked));
  return { el, update(value) { input.checked = value === true; input.indeterminate = value === null || value === undefined; } };
}

function pushButton(spec, prop, send) {
  const button = h("button.press", { type: "button", text: spec.name || label(prop) });
  button.addEventListener("click", async () => {
    button.disabled = true;
    await send(true);
    button.disabled = false;
  });
  return { el: button, update() {} };
}

function textInput(spec, send) {
  const input = h("input.text", { type: "text", maxLength: spec.max_length || 255 });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") input.blur(); });
  input.addEventListener("change", () => send(input.value));
  return { el: input, update(value) { if (document.activeElement !== input) input.value = value ?? ""; } };
}

function select(spec, send) {
  const el = h("select", (spec.options || []).map((o) => h("option", { value: o, text: o })));
  el.addEventListener("change", () => send(el.value));
  return { el, update(value) { el.value = value ?? ""; } };
}

function image(device, prop, store) {
  const img = h("img.snapshot", { alt: `${device.ref} ${prop}`, hidden: true });
  const empty = h("span.value.muted", { text: "no picture yet" });
  const el = h("span.image", img, empty);
  const load = (version) => {
    if (!version) { img.hidden = true; empty.hidden = false; return; }
    img.src = `/api/blobs/${device.ref}/${prop}?v=${version}`;
    img.hidden = false;
    empty.hidden = true;
  };
  img.addEventListener("error", () => { img.hidden = true; empty.hidden = false; });
  load(store.blobVersions.get(`${device.ref}/${prop}`));
  return { el, update() {}, blob: load };
}

function lastEvent() {
  const el = h("span.value.muted", { text: "—" });
  return { el, update() {}, event(event) { el.textContent = `${event.event_type} · ${ago(event.ts)}`; el.classList.remove("muted"); } };
}

// A device card: name, where it lives, whether it answers, and a row per property.
export function deviceCard(store, device, { link = true, only = null } = {}) {
  const meta = device.meta || { properties: {} };
  const rows = new Map();
  const title = link
    ? h("a.card-title", { href: `#/device/${device.ref}`, text: meta.name || device.id })
    : h("span.card-title", { text: meta.name || device.id });
  const badge = h("span.badge");
  const updated = h("span.updated");
  const body = h("div.props");
  const card = h("section.card", { dataset: { ref: device.ref } },
    h("header", title, badge),
    h("div.sub", h("span.ref", { text: device.ref }), meta.model ? ` · ${meta.model}` : ""),
    body,
    h("footer", updated));
  for (const [prop, spec] of Object.entries(meta.properties || {})) {
    if (only && !only(prop, spec)) continue;
    const row = propertyRow(store, device, prop, spec);
    rows.set(prop, row);
    body.append(row.el);
  }
  const refresh = () => {
    const current = store.devices.get(device.ref) || device;
    const online = store.online(current);
    card.classList.toggle("offline", !online);
    badge.textContent = online ? "online" : "offline";
    badge.className = "badge " + (online ? "ok" : "bad");
    updated.textContent = current.state?.ts ? `updated ${ago(current.state.ts)}` : "";
    updated.title = current.state?.ts || "";
  };
  refresh();
  return {
    el: card,
    refresh,
    state(state) {
      for (const [prop, row] of rows) row.update(state[prop]);
      refresh();
    },
    error(error) { if (error.prop && rows.has(error.prop)) rows.get(error.prop).error(error); },
    blob(prop, version) { rows.get(prop)?.blob(version); },
    event(event) { for (const row of rows.values()) row.event(event); },
    rebuild() { const fresh = deviceCard(store, store.devices.get(device.ref), { link, only }); card.replaceWith(fresh.el); return fresh; },
  };
}

// Keeps a set of cards current from the store's changes; returns the listener's remover.
export function followCards(store, cards, onStructure) {
  const listener = (e) => {
    const m = e.detail;
    if (m.type === "state") cards.get(m.ref)?.state(m.state);
    else if (m.type === "error") cards.get(m.ref)?.error(m.error);
    else if (m.type === "blob") cards.get(m.ref)?.blob(m.prop, m.version);
    else if (m.type === "event") cards.get(m.ref)?.event(m.event);
    else if (m.type === "device") {
      const card = cards.get(m.device.ref);
      if (card) cards.set(m.device.ref, card.rebuild());
      else onStructure?.();
    } else if (m.type === "node" || m.type === "tick") for (const card of cards.values()) card.refresh();
    else if (m.type === "snapshot" || m.type === "removed") onStructure?.();
  };
  store.addEventListener("change", listener);
  return () => store.removeEventListener("change", listener);
}

export { clear };
