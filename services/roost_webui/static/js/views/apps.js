// Apps run by the supervisor: state, pid, uptime, restarts, cpu, memory, and
// start / stop / restart. The supervisor's devices are the truth; buttons are commands.
import { h } from "../dom.js";
import { api } from "../api.js";
import { bytes, duration } from "../format.js";

const STATE_CLASS = { running: "ok", starting: "warn", stopping: "warn", backoff: "warn", crashed: "bad", failed: "bad", stopped: "muted" };
// States whose reason the row shows: why it is not running (for `failed`, the app's own
// config error line, which no restart fixes).
const SHOW_REASON = new Set(["failed", "crashed", "backoff"]);

// An app device of a supervisor: a `state` property and start/stop/restart buttons.
export function appState(device) {
  return device.meta?.properties?.state ? device.state?.state : undefined;
}

export function isApp(device) {
  const props = device.meta?.properties || {};
  return Boolean(props.state && (props.start || props.stop || props.restart));
}

function appRow(store, device) {
  const s = { ...(device.state || {}), state: appState(device) };
  const online = store.online(device);
  const error = h("span.prop-error", { role: "alert", hidden: true });
  const act = (button) => async () => {
    error.hidden = true;
    const verdict = await api.set(device.ref, { [button]: true });
    if (verdict.status !== "ok") { error.textContent = verdict.error?.message || verdict.status; error.hidden = false; }
  };
  const buttons = ["start", "stop", "restart"]
    .filter((b) => device.meta?.properties?.[b])
    .map((b) => h("button", { type: "button", text: b, dataset: { action: b }, onclick: act(b) }));
  return h("tr", { dataset: { ref: device.ref } },
    h("td", h("a", { href: `#/device/${device.ref}`, text: device.meta?.name || device.id })),
    h("td.state",
      h(`span.badge.${online ? STATE_CLASS[s.state] || "muted" : "muted"}`, { text: online ? (s.state ?? "?") : "unknown" }),
      online && SHOW_REASON.has(s.state) && s.reason ? h("div.reason", { text: s.reason }) : ""),
    h("td.num", s.pid ?? "—"),
    h("td.num", s.uptime !== undefined && s.uptime !== null ? duration(s.uptime) : "—"),
    h("td.num", s.restarts ?? "—"),
    h("td.num", s.cpu !== undefined && s.cpu !== null ? `${s.cpu} %` : "—"),
    h("td.num", typeof s.rss === "number" ? bytes(s.rss) : "—"),
    h("td.actions", buttons, error));
}

export default function apps(root, store) {
  const body = h("div");
  root.append(h("h1", "Apps"), body);
  const draw = () => {
    const supervisors = store.nodesWith("logs");
    if (!supervisors.length) {
      body.replaceChildren(h("p.muted", "No supervisor is publishing apps."));
      return;
    }
    body.replaceChildren(...supervisors.map((node) => {
      const devices = store.devicesOf(node.id).filter(isApp)
        .sort((a, b) => a.id.localeCompare(b.id));
      const host = store.devices.get(`${node.id}/host`);
      return h("section.group", { dataset: { node: node.id } },
        h("h2", `${node.id}${node.online ? "" : " (offline)"}`),
        host ? h("p.muted", Object.entries(host.state || {}).filter(([k]) => k !== "ts").map(([k, v]) => `${k} ${v}`).join(" · ")) : "",
        h("div.table-wrap", h("table.apps",
          h("thead", h("tr", ["app", "state", "pid", "uptime", "restarts", "cpu", "memory", ""].map((t) => h("th", t)))),
          h("tbody", devices.map((d) => appRow(store, d))))));
    }));
  };
  draw();
  const listener = (e) => { if (["state", "device", "node", "snapshot", "removed", "tick"].includes(e.detail.type)) draw(); };
  store.addEventListener("change", listener);
  return () => store.removeEventListener("change", listener);
}
