// The console: asks for the API key once, keeps it in sessionStorage, and fetches HTML
// fragments rendered by the server, sending the key in the X-API-Key header.
"use strict";
(function () {
  const STORE = "tiers-api-key";
  const $ = (id) => document.getElementById(id);
  let current = null;   // the customer id shown

  function key() { return sessionStorage.getItem(STORE); }

  function show(id, message) {
    const el = $(id);
    el.textContent = message || "";
    el.hidden = !message;
  }

  async function fetchHtml(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers["X-API-Key"] = key() || "";
    const res = await fetch(path, opts);
    const text = await res.text();
    if (res.status === 401) {
      sessionStorage.removeItem(STORE);
      ask("That key was not accepted.");
      throw new Error("not signed in");
    }
    if (!res.ok) {
      let message = "error " + res.status;
      try {
        const err = JSON.parse(text).error;
        message = err.message + (err.errors || []).map((e) => "; " + e.path + " " + e.message).join("");
      } catch (_) { /* not JSON */ }
      throw new Error(message);
    }
    return text;
  }

  function ask(message) {
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("key-panel").hidden = false;
    show("key-error", message);
    $("key").focus();
  }

  async function loadTiers() {
    try {
      $("tiers").innerHTML = await fetchHtml("/console/tiers");
      show("tiers-error", "");
      const spec = document.getElementById("tier-chart-spec");
      if (spec && window.Plotly) {
        const fig = JSON.parse(spec.textContent);
        await Plotly.newPlot("tier-chart", fig.data, fig.layout, { displaylogo: false, responsive: true });
      }
      document.body.dataset.tiers = "drawn";
    } catch (e) {
      if (e.message !== "not signed in") show("tiers-error", e.message);
    }
  }

  function start() {
    $("key-panel").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    loadTiers();
  }

  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(STORE, $("key").value.trim());
    $("key").value = "";
    start();
  });

  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(STORE);
    ask("");
  });

  $("search-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const id = $("customer-id").value.trim();
    if (!id) return;
    try {
      $("customer").innerHTML = await fetchHtml("/console/customers/" + encodeURIComponent(id));
      show("search-error", "");
      current = id;
      $("simulate-panel").hidden = false;
      $("simulation").innerHTML = "";
      document.body.dataset.customer = id;
    } catch (e) {
      if (e.message === "not signed in") return;
      $("customer").innerHTML = "";
      show("search-error", e.message);
      // an unknown id can still be simulated: a new member's first order
      current = id;
      $("simulate-panel").hidden = false;
    }
  });

  $("simulate-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    const order = { amount: $("amount").value };
    if ($("order-ts").value) order.order_ts = $("order-ts").value;
    try {
      $("simulation").innerHTML = await fetchHtml(
        "/console/customers/" + encodeURIComponent(current) + "/simulate",
        { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ orders: [order] }) });
      show("simulate-error", "");
      document.body.dataset.simulated = current;
    } catch (e) {
      if (e.message !== "not signed in") show("simulate-error", e.message);
    }
  });

  if (key()) start(); else ask("");
})();
