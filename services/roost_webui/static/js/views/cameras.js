// Cameras and detectors: every device with a picture, refreshed as new snapshots arrive,
// with the detections that came with them.
import { h } from "../dom.js";
import { deviceCard, followCards } from "../controls.js";
import { eventList } from "./events.js";

export default function cameras(root, store) {
  const body = h("div.grid.wide");
  root.append(h("h1", "Cameras"), body);
  const cards = new Map();
  let stops = [];
  const draw = () => {
    stops.forEach((s) => s());
    stops = [];
    cards.clear();
    const withPictures = [...store.devices.values()]
      .filter((d) => Object.values(d.meta?.properties || {}).some((s) => s.kind === "image"))
      .sort((a, b) => a.ref.localeCompare(b.ref));
    body.replaceChildren(...withPictures.map((d) => {
      const card = deviceCard(store, d);
      cards.set(d.ref, card);
      const hasEvents = Object.values(d.meta.properties).some((s) => s.kind === "event") || (d.meta.events || []).length;
      if (hasEvents) {
        const list = eventList(store, d.ref, { limit: 10 });
        stops.push(list.stop);
        card.el.append(h("details.events", { open: true }, h("summary", "Detections"), list.el));
      }
      return card.el;
    }));
    if (!withPictures.length) body.append(h("p.muted", "No camera publishes a snapshot yet."));
  };
  draw();
  const stop = followCards(store, cards, draw);
  return () => { stop(); stops.forEach((s) => s()); };
}
