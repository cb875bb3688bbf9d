// One device: its controls, history charts of its numbers (1 h / 24 h / 7 d from the
// recorder, live tail appended), its recent events with their pictures, and for an app
// of the supervisor its log tail.
import { h } from "../dom.js";
import { api } from "../api.js";
import { deviceCard, followCards } from "../controls.js";
import { timeChart } from "../chart.js";
import { label, clock } from "../format.js";
import { eventList } from "./events.js";
import { isApp } from "./apps.js";

const RANGES = { "1h": 3600, "24h": 86400, "7d": 604800 };

export default function device(root, store, args) {
  const ref = args.slice(0, 2).join("/");
  const current = store.devices.get(ref);
  if (!current) {
    root.append(h("h1", ref), h("p.muted", store.live ? "No such device (yet)." : "Connecting…"));
    const retry = (e) => { if (e.detail.type === "snapshot" || e.detail.type === "device") { store.removeEventListener("change", retry); location.hash = location.hash; window.dispatchEvent(new HashChangeEvent("hashchange")); } };
    store.addEventListener("change", retry);
    return () => store.removeEventListener("change", retry);
  }
  const removers = [];
  const cards = new Map();
  const card = deviceCard(store, current, { link: false });
  cards.set(ref, card);
  root.append(h("h1", current.meta?.name || current.id), h("div.device-page", card.el));
  removers.push(followCards(store, cards, () => {}));

  // history
  const numeric = Object.entries(current.meta?.properties || {}).filter(([, s]) => s.kind === "number");
  if (numeric.length) {
    let range = "1h";
    const note = h("p.muted.history-note");
    const buttons = Object.keys(RANGES).map((r) => h("button.range", { type: "button", text: r, dataset: { range: r }, onclick: () => { range = r; load(); } }));
    const charts = new Map();
    const section = h("section.history", h("div.toolbar", h("h2", "History"), h("span.ranges", buttons)), note);
    for (const [prop, spec] of numeric) {
      const chart = timeChart(spec);
      chart.note = h("span.muted.small.chart-note");
      charts.set(prop, chart);
      section.append(h("figure.chart-card", { dataset: { prop } }, h("figcaption", label(prop, spec) + (spec.unit ? ` (${spec.unit})` : ""), " ", chart.note), chart.el));
    }
    root.append(section);
    const load = async () => {
      buttons.forEach((b) => b.classList.toggle("active", b.dataset.range === range));
      note.textContent = "";
      await Promise.all([...charts].map(async ([prop, chart]) => {
        chart.note.textContent = "";
        try {
          const data = await api.get(`/api/history?device=${encodeURIComponent(ref)}&prop=${prop}&range=${range}`);
          chart.setData(data.points || [], RANGES[range]);
        } catch (err) {
          chart.setData([], RANGES[range]);
          if (err.code === "no_recorder") note.textContent = "No recorder is online, so there is no history; live values are drawn as they arrive.";
          else chart.note.textContent = `— ${err.message}`;
        }
      }));
    };
    load();
    const tail = (e) => {
      const m = e.detail;
      if (m.type === "state" && m.ref === ref) {
        const ts = m.state.ts ? Date.parse(m.state.ts) / 1000 : Date.now() / 1000;
        for (const [prop, chart] of charts) chart.append(ts, m.state[prop]);
      }
    };
    store.addEventListener("change", tail);
    removers.push(() => store.removeEventListener("change", tail));
  }

  // events (detections, presses, script errors)
  const props = current.meta?.properties || {};
  const hasEvents = Object.values(props).some((s) => s.kind === "event" || s.kind === "image") || (current.meta?.events || []).length;
  if (hasEvents) {
    const list = eventList(store, ref);
    root.append(h("section.events", h("h2", "Recent events"), list.el));
    removers.push(list.stop);
  }

  // an app of the supervisor: its log tail
  const nodeInfo = store.nodes.get(current.node)?.info;
  if (nodeInfo?.methods && "logs" in nodeInfo.methods && isApp(current)) {
    const pre = h("pre.log", { text: "loading…" });
    const refresh = h("button", { type: "button", text: "refresh" });
    root.append(h("section.app-log", h("div.toolbar", h("h2", "Log"), refresh), pre));
    const loadLog = async () => {
      try {
        const data = await api.get(`/api/apps/${ref}/logs?lines=200`);
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent = (data.lines || []).join("\n") || "(empty)";
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      } catch (err) {
        pre.textContent = `Could not read the log: ${err.message}`;
      }
    };
    refresh.addEventListener("click", loadLog);
    loadLog();
    const timer = setInterval(loadLog, 3000);
    removers.push(() => clearInterval(timer));
  }
  root.append(h("p.muted.small", `State ${current.state?.ts ? "at " + clock(current.state.ts) : "unknown"} · topics under roost/${ref}/`));
  return () => removers.forEach((r) => r());
}
