// Device cards grouped by node or by area, with a filter; every value live.
import { h } from "../dom.js";
import { deviceCard, followCards } from "../controls.js";

const KEY = "roost.groupBy";

export default function devices(root, store) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  let groupBy = localStorage.getItem(KEY) || "node";
  const filter = h("input.filter", { type: "search", placeholder: "filter devices", value: params.get("node") || "", "aria-label": "filter devices" });
  const groupSelect = h("select", { "aria-label": "group by" },
    h("option", { value: "node", text: "by node" }), h("option", { value: "area", text: "by area" }));
  groupSelect.value = groupBy;
  const body = h("div");
  root.append(h("div.toolbar", h("h1", "Devices"), filter, groupSelect), body);
  const cards = new Map();

  const draw = () => {
    cards.clear();
    const needle = filter.value.trim().toLowerCase();
    const groups = new Map();
    const all = [...store.devices.values()].sort((a, b) => a.ref.localeCompare(b.ref));
    for (const device of all) {
      const name = device.meta?.name || device.id;
      if (needle && !`${device.ref} ${name}`.toLowerCase().includes(needle)) continue;
      const key = groupBy === "area" ? (device.meta?.suggested_area || "No area") : device.node;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(device);
    }
    const sections = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, list]) =>
      h("section.group", { dataset: { group: key } }, h("h2", key),
        h("div.grid", list.map((d) => { const card = deviceCard(store, d); cards.set(d.ref, card); return card.el; }))));
    body.replaceChildren(...(sections.length ? sections : [h("p.muted", store.live ? "No devices yet." : "Connecting…")]));
  };
  filter.addEventListener("input", draw);
  groupSelect.addEventListener("change", () => { groupBy = groupSelect.value; localStorage.setItem(KEY, groupBy); draw(); });
  draw();
  return followCards(store, cards, draw);
}
