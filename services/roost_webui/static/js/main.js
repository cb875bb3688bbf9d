// The page: log-in check, the live connection, the banner, and a hash router over views.
import { api } from "./api.js";
import { Store, connect } from "./store.js";
import { clear } from "./dom.js";
import overview from "./views/overview.js";
import devices from "./views/devices.js";
import device from "./views/device.js";
import cameras from "./views/cameras.js";
import apps from "./views/apps.js";
import scripts from "./views/scripts.js";
import access from "./views/access.js";

const VIEWS = { overview, devices, device, cameras, apps, scripts, access };
const store = new Store();
const root = document.getElementById("view");
const banner = document.getElementById("banner");
const dot = document.getElementById("link-state");
let cleanup = null;
let shownRoute = null;

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  const name = parts[0] === "device" ? "device" : (parts[0] || "overview");
  return { name: VIEWS[name] ? name : "overview", args: parts.slice(1) };
}

function render() {
  const r = route();
  shownRoute = r;
  if (cleanup) cleanup();
  clear(root);
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.route === r.name || (r.name === "device" && a.dataset.route === "devices")));
  cleanup = VIEWS[r.name](root, store, r.args) || null;
}

function showBanner() {
  let text = "";
  if (!store.live) text = "Lost the connection to the web UI — reconnecting…";
  else if (!store.broker) text = "The MQTT broker is unreachable — values shown are the last known ones; reconnecting…";
  banner.textContent = text;
  banner.hidden = !text;
  document.body.classList.toggle("stale", Boolean(text));
  dot.className = "dot " + (text ? "bad" : "ok");
  dot.title = text || "live";
}

store.addEventListener("change", (e) => {
  const type = e.detail.type;
  if (type === "broker" || type === "link" || type === "snapshot") showBanner();
  if (type === "snapshot" && !root.firstChild) render();
});

async function start() {
  try {
    await api.session();
  } catch (err) {
    return;   // a 401 already went to the login page
  }
  window.addEventListener("hashchange", render);
  connect(store, {
    onDenied: async () => { try { await api.session(); } catch (err) { /* redirected */ } },
  });
  render();
  showBanner();
  setInterval(() => store.dispatchEvent(new CustomEvent("change", { detail: { type: "tick" } })), 10000);
}

start();
export { store, shownRoute };
