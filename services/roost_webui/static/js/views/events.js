// Recent events of one device, newest first, each with its picture when one came with it
// (a detector's best snapshot, which the detector draws its box on).
import { h } from "../dom.js";
import { api } from "../api.js";
import { clock } from "../format.js";

function describe(event) {
  const data = event.data || {};
  const bits = [];
  if (data.label) bits.push(data.label);
  if (typeof data.top_score === "number") bits.push(`${Math.round(data.top_score * 100)} %`);
  else if (typeof data.score === "number") bits.push(`${Math.round(data.score * 100)} %`);
  if (data.message) bits.push(data.message);
  if (data.script) bits.push(`${data.script}${data.function ? ":" + data.function : ""}`);
  if (data.prop) bits.push(data.prop);
  return bits.join(" · ");
}

export function eventItem(ref, event) {
  const children = [
    h("div.event-head", h("strong", event.event_type), event.phase ? h("span.badge.muted", { text: event.phase }) : "", h("span.muted", clock(event.ts))),
    h("div.event-text", describe(event)),
  ];
  if (event.snapshot) {
    const img = h("img", { src: `/api/devices/${ref}/events/${event.id}/snapshot`, alt: `${event.event_type} snapshot`, loading: "lazy" });
    const frame = h("div.event-shot", img);
    children.push(frame);
  }
  return h("li.event", { dataset: { id: event.id, type: event.event_type } }, children);
}

export function eventList(store, ref, { filter = null, limit = 50 } = {}) {
  const list = h("ul.event-list");
  const empty = h("p.muted", "No events since the web UI started.");
  const el = h("div", list, empty);
  const entries = new Map();
  const put = (event, front) => {
    if (filter && !filter(event)) return;
    const item = eventItem(ref, event);
    const old = entries.get(event.id);
    if (old) old.replaceWith(item);
    else if (front) list.prepend(item);
    else list.append(item);
    entries.set(event.id, item);
    while (list.children.length > limit) { const last = list.lastChild; entries.delete(last.dataset.id); last.remove(); }
    empty.hidden = list.children.length > 0;
  };
  api.get(`/api/devices/${ref}/events`).then((data) => { for (const e of data.events || []) put(e, false); }).catch(() => {});
  const listener = (e) => { if (e.detail.type === "event" && e.detail.ref === ref) put(e.detail.event, true); };
  store.addEventListener("change", listener);
  return { el, stop: () => store.removeEventListener("change", listener) };
}
