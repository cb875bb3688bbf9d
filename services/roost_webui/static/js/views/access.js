// Who may use the web UI: this session, API tokens for scripts, logging out.
import { h } from "../dom.js";
import { api } from "../api.js";

export default function access(root) {
  const list = h("tbody");
  const shown = h("p.token-shown", { hidden: true });
  const name = h("input", { type: "text", placeholder: "token name, e.g. grafana", maxLength: 64, "aria-label": "token name" });
  const error = h("p.prop-error", { hidden: true });
  const load = async () => {
    const data = await api.get("/api/tokens");
    list.replaceChildren(...data.tokens.map((t) => h("tr", h("td", t.name), h("td", new Date(t.created * 1000).toLocaleString()),
      h("td", h("button", { type: "button", text: "revoke", onclick: async () => { await api.del(`/api/tokens/${encodeURIComponent(t.name)}`); load(); } })))));
  };
  const create = async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      const made = await api.post("/api/tokens", { name: name.value.trim() });
      shown.textContent = `Token ${made.name} (shown once): ${made.token}`;
      shown.hidden = false;
      name.value = "";
      load();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  };
  root.append(
    h("h1", "Access"),
    h("section.card",
      h("h2", "API tokens"),
      h("p.muted", "Scripts call the JSON API with the header Authorization: Bearer <token>."),
      h("form.inline", { onsubmit: create }, name, h("button", { type: "submit", text: "create" })),
      error, shown,
      h("div.table-wrap", h("table", h("thead", h("tr", h("th", "name"), h("th", "created"), h("th", ""))), list))),
    h("section.card", h("h2", "Session"), h("button", { id: "logout", type: "button", text: "log out", onclick: () => api.logout() })));
  load().catch(() => {});
}
