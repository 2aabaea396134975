// Shoal console: live regions and forms. No framework, no build step.
//
// Live: the page listens to /console/events (server-sent events). On `change` (a commit)
// — or on `metrics` when the page shows charts — it re-fetches itself and swaps every
// element marked data-live="…" whose content changed, keeping checked boxes checked.
//
// Forms: posted with fetch as the AWS action they name; a refusal shows AWS's error
// code and message in the form's .form-error box.
"use strict";
(function () {
  const live = document.getElementById("live");
  let inflight = false;
  let again = false;

  function setLive(state, text) {
    if (!live) return;
    live.className = "live " + state;
    live.textContent = text;
  }

  async function refresh() {
    if (inflight) { again = true; return; }
    inflight = true;
    try {
      do {
        again = false;
        const r = await fetch(location.pathname, { headers: { "X-Shoal-Live": "1" }, cache: "no-store" });
        const text = await r.text();
        const doc = new DOMParser().parseFromString(text, "text/html");
        swap(doc);
      } while (again);
    } catch (e) {
      setLive("down", "reconnecting…");
    } finally {
      inflight = false;
    }
  }

  function swap(doc) {
    const main = document.querySelector("main");
    for (const fresh of doc.querySelectorAll("[data-live]")) {
      const key = fresh.getAttribute("data-live");
      const cur = document.querySelector('[data-live="' + CSS.escape(key) + '"]');
      if (!cur) {
        if (key === "missing" && main) main.prepend(document.importNode(fresh, true));
        continue;
      }
      if (cur.innerHTML === fresh.innerHTML) continue;
      const checked = new Set();
      for (const box of cur.querySelectorAll("input[type=checkbox]:checked")) checked.add(box.name + "=" + box.value);
      const node = document.importNode(fresh, true);
      for (const box of node.querySelectorAll("input[type=checkbox]")) {
        if (checked.has(box.name + "=" + box.value)) box.checked = true;
      }
      cur.replaceWith(node);
      wireForms(node);
    }
  }

  function connect() {
    if (!window.EventSource) { setLive("down", "no live updates"); return; }
    const es = new EventSource("/console/events");
    es.addEventListener("hello", () => setLive("up", "live"));
    es.addEventListener("change", () => { setLive("up", "live"); refresh(); });
    es.addEventListener("metrics", () => {
      // A hidden tab skips chart updates; it catches up when shown again.
      if (!document.hidden && document.querySelector("[data-metrics]")) refresh();
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
    es.onerror = () => setLive("down", "reconnecting…");
    window.addEventListener("beforeunload", () => es.close());
  }

  function toast(message) {
    let t = document.getElementById("toast");
    if (!t) {
      t = document.createElement("div");
      t.id = "toast";
      t.setAttribute("role", "status");
      document.body.appendChild(t);
    }
    t.textContent = message;
    t.className = "show";
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.className = ""; }, 4000);
  }

  async function submit(form, submitter) {
    const box = form.querySelector(".form-error");
    const confirmText = submitter && submitter.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) return;
    const data = new URLSearchParams(new FormData(form, submitter || undefined));
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    if (box) { box.hidden = true; box.textContent = ""; }
    try {
      const r = await fetch(form.action, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: data,
      });
      const body = await r.json();
      if (!r.ok) {
        if (box) {
          box.innerHTML = "";
          const code = document.createElement("b");
          code.className = "code";
          code.textContent = body.code;
          box.append(code, ": " + body.message);
          box.hidden = false;
        }
        return;
      }
      toast(body.message || "Done");
      if (body.redirect) { location.href = body.redirect; return; }
      refresh();
    } catch (e) {
      if (box) { box.textContent = "Shoal did not answer: " + e; box.hidden = false; }
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function wireForms(root) {
    for (const form of root.querySelectorAll("form[data-action]")) {
      if (form.dataset.wired) continue;
      form.dataset.wired = "1";
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        submit(form, ev.submitter);
      });
    }
  }

  // Forms outside the form element (checkbox form="…") submit with their form.
  wireForms(document);
  // A flash from a script-less redirect should not stay in the address bar.
  if (location.search.match(/[?&](ok|error)=/)) history.replaceState(null, "", location.pathname);
  connect();
})();
