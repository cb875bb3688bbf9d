// The event engine: its own counters, script errors as they happen, and its run log
// (newest first).
import { h } from "../dom.js";
import { api } from "../api.js";
import { clock } from "../format.js";
import { deviceCard, followCards } from "../controls.js";
import { eventList } from "./events.js";

export default function scripts(root, store) {
  const body = h("div");
  root.append(h("h1", "Scripts"), body);
  let stops = [];
  let timer = null;
  const draw = () => {
    stops.forEach((s) => s());
    stops = [];
    clearInterval(timer);
    const engines = store.nodesWith("log");
    if (!engines.length) {
      body.replaceChildren(h("p.muted", "No event engine is running."));
      return;
    }
    const sections = [];
    for (const node of engines) {
      const cards = new Map();
      const section = h("section.group", { dataset: { node: node.id } }, h("h2", node.id));
      const devices = store.devicesOf(node.id);
      const grid = h("div.grid");
      for (const d of devices) { const card = deviceCard(store, d); cards.set(d.ref, card); grid.append(card.el); }
      stops.push(followCards(store, cards, () => {}));
      section.append(grid);
      // Only the devices that declare script errors report them (the engine's own, not its
      // virtual devices): one section for the node, whatever the number of devices.
      const reporters = devices.filter(reportsScriptErrors);
      if (reporters.length) {
        section.append(h("h3", "Script errors"));
        for (const d of reporters) {
          const errors = eventList(store, d.ref, { filter: (e) => e.event_type === "script_error", limit: 20 });
          stops.push(errors.stop);
          section.append(errors.el);
        }
      }
      const table = h("tbody");
      const note = h("p.muted");
      section.append(h("div.toolbar", h("h3", "Log"), h("button", { type: "button", text: "refresh", onclick: () => load() })), note,
        h("div.table-wrap", h("table.script-log", h("thead", h("tr", ["time", "trigger", "functions", "sent", "ms", "error"].map((t) => h("th", t)))), table)));
      const load = async () => {
        try {
          const data = await api.get(`/api/scripts/log?node=${node.id}&limit=100`);
          note.textContent = "";
          // the engine answers oldest first, like a log file; the page shows the newest on top
          const entries = [...(data.entries || [])].reverse();
          table.replaceChildren(...entries.map((e) => h("tr", { className: e.error ? "failed" : "" },
            h("td", e.ts ? clock(e.ts) : "—"), h("td.trigger", describeTrigger(e.trigger)), h("td", Array.isArray(e.functions) ? e.functions.join(", ") : String(e.functions ?? "")),
            h("td.num", Array.isArray(e.sent) ? String(e.sent.length) : String(e.sent ?? "")), h("td.num", e.duration_ms ?? ""), h("td.error-text", e.error || ""))));
        } catch (err) {
          note.textContent = `Could not read the log: ${err.message}`;
        }
      };
      load();
      timer = setInterval(load, 5000);
      sections.push(section);
    }
    body.replaceChildren(...sections);
  };
  draw();
  let engineIds = store.nodesWith("log").map((n) => n.id).join();
  const listener = (e) => {
    if (e.detail.type !== "snapshot" && e.detail.type !== "node") return;
    const ids = store.nodesWith("log").map((n) => n.id).join();
    if (e.detail.type === "snapshot" || ids !== engineIds) { engineIds = ids; draw(); }
  };
  store.addEventListener("change", listener);
  return () => { store.removeEventListener("change", listener); stops.forEach((s) => s()); clearInterval(timer); };
}

// A device whose meta names the script_error event, in its events or an event property's options.
function reportsScriptErrors(device) {
  const meta = device.meta || {};
  if ((meta.events || []).includes("script_error")) return true;
  return Object.values(meta.properties || {}).some((p) => p.kind === "event" && (p.options || []).includes("script_error"));
}

const CALLS = { timer: "timer", schedule: "schedule", http: "http answer", start: "script start" };

function shown(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// What set a run off, in words: the device and what changed on it, the event, the command
// to a virtual device, or the timer/schedule that called which function.
export function describeTrigger(trigger) {
  if (trigger === null || trigger === undefined) return "";
  if (typeof trigger !== "object") return String(trigger);
  const changes = Object.entries(trigger.changes || {}).map(([prop, value]) => `${prop} = ${shown(value)}`).join(", ");
  const device = trigger.device || "";
  switch (trigger.kind) {
    case "change": return [device, changes].filter(Boolean).join(" · ");
    case "event": return [device, `event ${trigger.event ?? "?"}`].filter(Boolean).join(" · ");
    case "set": return [device, `set ${changes}`].filter(Boolean).join(" · ");
    default: {
      const what = CALLS[trigger.kind] || trigger.kind || "call";
      return trigger.function ? `${what} → ${trigger.function}` : what;
    }
  }
}
