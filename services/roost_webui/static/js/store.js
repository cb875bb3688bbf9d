// What the page knows: every node and device as the web UI's mirror holds them, kept
// current by the WebSocket. Views listen for "change" events ({detail: message}).
export class Store extends EventTarget {
  constructor() {
    super();
    this.nodes = new Map();
    this.devices = new Map();
    this.broker = false;
    this.live = false;
    this.blobVersions = new Map();
    this.events = new Map();
  }

  online(device) {
    const node = this.nodes.get(device.node);
    return Boolean(node && node.online && device.available);
  }

  // The node offering a request method: the recorder has "history", the supervisor "logs",
  // the event engine "log".
  nodesWith(method) {
    return [...this.nodes.values()].filter((n) => n.info && n.info.methods && method in n.info.methods);
  }

  devicesOf(nodeId) {
    return [...this.devices.values()].filter((d) => d.node === nodeId);
  }

  apply(message) {
    switch (message.type) {
      case "snapshot":
        this.nodes = new Map(message.nodes.map((n) => [n.id, n]));
        this.devices = new Map(message.devices.map((d) => [d.ref, d]));
        this.broker = message.broker;
        this.blobVersions = new Map(Object.entries(message.blobs || {}));
        break;
      case "node":
        this.nodes.set(message.node.id, message.node);
        break;
      case "device": {
        const old = this.devices.get(message.device.ref);
        this.devices.set(message.device.ref, { ...old, ...message.device });
        break;
      }
      case "state": {
        const device = this.devices.get(message.ref);
        if (device) device.state = message.state;
        break;
      }
      case "error": {
        const device = this.devices.get(message.ref);
        if (device) device.last_error = message.error;
        break;
      }
      case "removed":
        this.devices.delete(message.ref);
        break;
      case "broker":
        this.broker = message.connected;
        break;
      case "blob":
        this.blobVersions.set(`${message.ref}/${message.prop}`, message.version);
        break;
      case "event":
        break;
      default:
        return;
    }
    this.dispatchEvent(new CustomEvent("change", { detail: message }));
  }

  setLive(live) {
    if (this.live === live) return;
    this.live = live;
    this.dispatchEvent(new CustomEvent("change", { detail: { type: "link", live } }));
  }
}

// Keeps one WebSocket open, reconnecting with backoff; every (re)connect starts from the
// server's snapshot, so nothing missed while away can linger.
export function connect(store, { onDenied }) {
  let delay = 500;
  let failures = 0;
  let socket = null;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws`);
    let opened = false;
    socket.onopen = () => { opened = true; };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") { delay = 500; failures = 0; store.setLive(true); }
      store.apply(message);
    };
    socket.onclose = async () => {
      store.setLive(false);
      failures += opened ? 0 : 1;
      if (failures >= 2 && onDenied) await onDenied();
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 8000);
    };
  };
  open();
  return () => socket && socket.close();
}
