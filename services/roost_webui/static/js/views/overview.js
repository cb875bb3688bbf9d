// Nodes and their health: running, stopped or dead; how long up; what they cost.
import { h } from "../dom.js";
import { bytes, duration, ago } from "../format.js";

function health(node) {
  if (node.online) return ["online", "ok"];
  if (node.info && node.info.state === "stopped") return ["stopped", "muted"];
  if (node.online === false) return ["offline", "bad"];
  return ["unknown", "muted"];
}

function nodeCard(store, node) {
  const [text, cls] = health(node);
  const info = node.info || {};
  const stats = node.stats || {};
  const devices = store.devicesOf(node.id);
  const down = devices.filter((d) => !store.online(d)).length;
  return h("section.card.node", { dataset: { node: node.id } },
    h("header", h("a.card-title", { href: `#/devices?node=${node.id}`, text: node.id }), h(`span.badge.${cls}`, { text })),
    h("div.sub", `${info.service || "?"} ${info.version || ""} · ${info.host || "?"}`),
    h("dl.facts",
      h("dt", "devices"), h("dd", `${devices.length}${down ? ` (${down} offline)` : ""}`),
      // from `info.started`: the stats behind it are only published every 30 s
      h("dt", "uptime"), h("dd", node.online && info.started ? duration((Date.now() - Date.parse(info.started)) / 1000) : "—"),
      h("dt", "cpu"), h("dd", stats.cpu !== undefined ? `${stats.cpu} %` : "—"),
      h("dt", "memory"), h("dd", bytes(stats.rss)),
      h("dt", "loop lag"), h("dd", stats.loop_lag !== undefined ? `${stats.loop_lag} ms` : "—"),
      h("dt", "errors"), h("dd.errors", String(stats.errors ?? "—")),
      h("dt", "messages"), h("dd", stats.messages_in !== undefined ? `${stats.messages_in} in / ${stats.messages_out} out` : "—"),
      h("dt", "started"), h("dd", info.started ? ago(info.started) : "—")));
}

export default function overview(root, store) {
  const summary = h("p.summary");
  const grid = h("div.grid.nodes");
  root.append(h("h1", "Overview"), summary, grid);
  const draw = () => {
    const nodes = [...store.nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
    const online = nodes.filter((n) => n.online).length;
    const devices = [...store.devices.values()];
    const up = devices.filter((d) => store.online(d)).length;
    summary.textContent = `${online} of ${nodes.length} nodes online · ${up} of ${devices.length} devices answering`;
    grid.replaceChildren(...nodes.map((n) => nodeCard(store, n)));
  };
  draw();
  const listener = (e) => { if (e.detail.type !== "state" && e.detail.type !== "event" && e.detail.type !== "blob") draw(); };
  store.addEventListener("change", listener);
  return () => store.removeEventListener("change", listener);
}
