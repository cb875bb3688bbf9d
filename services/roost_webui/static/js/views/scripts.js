// The event engine: its own counters, script errors as they happen, and its run log.
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
      for (const d of devices) {
        const errors = eventList(store, d.ref, { filter: (e) => e.event_type === "script_error", limit: 20 });
        stops.push(errors.stop);
        section.append(h("h3", "Script errors"), errors.el);
      }
      const table = h("tbody");
      const note = h("p.muted");
      section.append(h("div.toolbar", h("h3", "Log"), h("button", { type: "button", text: "refresh", onclick: () => load() })), note,
        h("div.table-wrap", h("table.script-log", h("thead", h("tr", ["time", "trigger", "functions", "sent", "ms", "error"].map((t) => h("th", t)))), table)));
      const load = async () => {
        try {
          const data = await api.get(`/api/scripts/log?node=${node.id}&limit=100`);
          note.textContent = "";
          table.replaceChildren(...(data.entries || []).map((e) => h("tr", { className: e.error ? "failed" : "" },
            h("td", e.ts ? clock(e.ts) : "—"), h("td", String(e.trigger ?? "")), h("td", Array.isArray(e.functions) ? e.functions.join(", ") : String(e.functions ?? "")),
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
