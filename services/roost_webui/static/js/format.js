// How values, times and sizes read on the page.
export function decimals(spec) {
  if (spec?.precision !== undefined && spec?.precision !== null) return spec.precision;
  if (spec?.step) {
    const text = String(spec.step);
    return text.includes(".") ? text.split(".")[1].length : 0;
  }
  return null;
}

export function formatNumber(value, spec) {
  if (value === null || value === undefined) return "—";
  if (typeof value !== "number") return String(value);
  const places = decimals(spec);
  if (places !== null) return value.toFixed(places);
  return Math.abs(value) >= 100 ? value.toFixed(1).replace(/\.0$/, "") : String(+value.toFixed(3));
}

export function formatValue(value, spec) {
  if (value === null || value === undefined) return "—";
  if (spec?.kind === "switch") return value ? "on" : "off";
  if (spec?.kind === "number") {
    if (spec.unit === "B" && typeof value === "number") return bytes(value);
    if (spec.unit === "s" && typeof value === "number" && value >= 120) return duration(value);
    const unit = spec.unit ? ` ${spec.unit}` : "";
    return formatNumber(value, spec) + unit;
  }
  return String(value);
}

export function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return duration(seconds) + " ago";
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(0)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function clock(ts) {
  const d = new Date(typeof ts === "number" ? ts * 1000 : Date.parse(ts));
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function label(prop, spec) {
  if (spec?.name) return spec.name;
  return prop.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}
