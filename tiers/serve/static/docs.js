// "Try it" on the API docs page: sends the request with the key kept in sessionStorage
// (the same key the console keeps) and shows the answer.
"use strict";
(function () {
  const STORE = "tiers-api-key";
  const state = document.getElementById("key-state");
  const mark = () => { state.textContent = sessionStorage.getItem(STORE) ? "a key is kept for this tab" : "no key kept"; };
  document.getElementById("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("key");
    if (input.value.trim()) sessionStorage.setItem(STORE, input.value.trim());
    input.value = "";
    mark();
  });
  mark();
  for (const box of document.querySelectorAll("details.try")) {
    box.querySelector("form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const out = box.querySelector(".try-out");
      let path = box.dataset.path;
      const query = new URLSearchParams();
      for (const input of box.querySelectorAll("input[data-in]")) {
        if (!input.value) continue;
        if (input.dataset.in === "path") path = path.replace("{" + input.name + "}", encodeURIComponent(input.value));
        else query.set(input.name, input.value);
      }
      const opts = { method: box.dataset.method, headers: { "X-API-Key": sessionStorage.getItem(STORE) || "" } };
      const body = box.querySelector("textarea");
      if (body) { opts.body = body.value; opts.headers["Content-Type"] = "application/json"; }
      const qs = query.toString();
      try {
        const res = await fetch(path + (qs ? "?" + qs : ""), opts);
        const text = await res.text();
        let shown = text;
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
        out.textContent = res.status + " " + res.statusText + "\n" + shown;
      } catch (e) {
        out.textContent = String(e);
      }
    });
  }
})();
