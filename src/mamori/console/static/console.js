// mamori analyst console: passkey sign-in (autofill / conditional mediation) and enrolment, and the
// small glue that sends the pages' forms to the JSON API with the CSRF token. No third-party code; every
// call goes to this origin. The server checks the operator's role on every call: hiding a button here is
// only a convenience.
"use strict";

(function () {
  const strings = () => document.getElementById("strings").dataset;
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // One JSON API call with the session's CSRF token. Without contentType the body is sent as JSON;
  // with one (e.g. a file upload) it is sent as it is. Errors carry the API's code, status and details.
  async function call(url, method, body, contentType) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrf() };
    const init = { method: method, credentials: "same-origin", headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = contentType || "application/json";
      init.body = contentType ? body : JSON.stringify(body);
    }
    const res = await fetch(url, init);
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) || res.statusText);
      err.code = data.error && data.error.code;
      err.status = res.status;
      err.details = data.error && data.error.details;
      throw err;
    }
    return data;
  }
  function say(text) {
    const box = document.getElementById("status");
    box.textContent = text || "";
  }
  function fail(err) {
    const s = strings();
    const box = document.getElementById("error");
    let text = s.errorGeneric;
    if (err && err.code === "mamori.auth.csrf") text = s.errorCsrf;
    else if (err && err.code === "mamori.auth.forbidden") text = s.errorForbidden;
    else if (err && err.code === "mamori.auth.unauthenticated") text = s.errorSession;
    else if (err && (err.code === "mamori.webauthn.rejected" || err.name === "NotAllowedError")) text = s.errorPasskey;
    if (err && err.message && err.status === 422) text += " " + err.message;
    box.textContent = text;
    box.dataset.code = (err && (err.code || err.name)) || "";
    box.hidden = false;
    say("");
  }
  function clearError() {
    const box = document.getElementById("error");
    box.hidden = true;
    box.textContent = "";
  }
  function go(path) {
    if (typeof path === "string" && path.startsWith("/") && !path.startsWith("//")) window.location.assign(path);
  }

  // -- sign-in with a discoverable passkey (W3C WebAuthn L3 §5.1.4, conditional mediation) --------------
  function loginPage(root) {
    let conditional = null;
    async function signIn(mediation, signal) {
      const start = await call("/console/api/login/options", "POST", {});
      const request = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(start.publicKey) };
      if (mediation) request.mediation = mediation;
      if (signal) request.signal = signal;
      const cred = await navigator.credentials.get(request);
      if (!cred) return;
      say(strings().working);
      clearError();
      const done = await call("/console/api/login", "POST",
                              { flow: start.flow, credential: cred.toJSON(), next: root.dataset.next });
      go(done.redirect);
    }
    async function autofill() {
      if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
      if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
      conditional = new AbortController();
      signIn("conditional", conditional.signal).catch((err) => {
        if (err && (err.name === "AbortError" || err.name === "NotAllowedError")) return;
        fail(err);
      });
    }
    document.getElementById("login-button").addEventListener("click", () => {
      clearError();
      if (conditional) conditional.abort();
      signIn(null, null).catch(fail).finally(() => { autofill(); });
    });
    autofill();
  }

  // -- enrolment: one-time code, then register a passkey (user verification required) ------------------
  function enrolPage() {
    document.getElementById("enrol-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearError();
      try {
        say(strings().working);
        const loginId = document.getElementById("enrol-login").value.trim();
        const start = await call("/console/api/enrol/options", "POST",
                                 { login_id: loginId, code: document.getElementById("enrol-code").value });
        const cred = await navigator.credentials.create(
          { publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(start.publicKey) });
        const done = await call("/console/api/enrol", "POST", { flow: start.flow, credential: cred.toJSON(),
                                                                name: document.getElementById("enrol-name").value });
        go(done.redirect);
      } catch (err) { fail(err); }
    });
  }

  // -- forms and buttons that call the JSON API ---------------------------------------------------------
  // <form data-api="/v1/..." data-method="POST">: fields become a JSON object. data-type="int" sends a
  // number, "datetime" a JST datetime-local as RFC 3339 (+09:00), "nullable" sends null when empty; other
  // empty fields are left out (data-keep-null="1" sends null instead).
  function formBody(form) {
    const body = {};
    for (const el of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      if (el.type === "file" || el.type === "checkbox") continue;
      const value = el.value.trim();
      const type = el.dataset.type;
      if (value === "") {
        if (type === "nullable" || el.dataset.keepNull) body[el.name] = null;
        continue;
      }
      if (type === "int") body[el.name] = parseInt(value, 10);
      else if (type === "datetime") body[el.name] = (value.length === 16 ? value + ":00" : value) + "+09:00";
      else body[el.name] = value;
    }
    return body;
  }
  function showCode(result) {
    const box = document.getElementById("code-box");
    if (box && result.enrolment_code) {
      document.getElementById("enrolment-code").textContent = result.enrolment_code + " (" + result.login_id + ")";
      box.hidden = false;
      return true;
    }
    return false;
  }
  async function submitApi(el, body) {
    if (el.dataset.confirm && !window.confirm(strings().confirm)) return;
    clearError();
    say(strings().working);
    try {
      const result = await call(el.dataset.api, el.dataset.method || "POST", body);
      say(strings().saved);
      if (el.dataset.showCode && showCode(result)) return;
      window.location.reload();
    } catch (err) { fail(err); }
  }
  function wireApi() {
    for (const form of document.querySelectorAll("form[data-api]")) {
      form.addEventListener("submit", (ev) => { ev.preventDefault(); submitApi(form, formBody(form)); });
    }
    for (const button of document.querySelectorAll("button[data-api]")) {
      button.addEventListener("click", () => submitApi(button, {}));
    }
    for (const form of document.querySelectorAll("form[data-attach]")) {
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const file = form.querySelector("input[type=file]").files[0];
        if (!file) return;
        const reader = new FileReader();
        reader.onload = () => {
          const data = String(reader.result).split(",", 2)[1] || "";
          submitApi({ dataset: { api: form.dataset.attach, method: "POST" } },
                    { filename: file.name, content_type: file.type || "application/octet-stream", data_base64: data });
        };
        reader.readAsDataURL(file);
      });
    }
    for (const button of document.querySelectorAll("button[data-letter]")) {
      button.addEventListener("click", async () => {
        clearError();
        try {
          const letter = await call(button.dataset.letter, "GET");
          const box = document.getElementById("letter");
          box.textContent = letter.subject + "\n\n" + letter.body;
          box.hidden = false;
        } catch (err) { fail(err); }
      });
    }
    const bulk = document.querySelector("form[data-bulk]");
    if (bulk) {
      for (const button of bulk.querySelectorAll("button[data-bulk-action]")) {
        button.addEventListener("click", () => {
          const ids = Array.from(bulk.querySelectorAll("input[name=case_ids]:checked")).map((c) => parseInt(c.value, 10));
          if (!ids.length) return;
          const action = button.dataset.bulkAction;
          const body = { action: action, case_ids: ids };
          if (action === "assign") body.assignee = bulk.querySelector("input[name=assignee]").value.trim();
          if (action === "comment") body.body = bulk.querySelector("input[name=body]").value.trim();
          submitApi({ dataset: { api: "/v1/cases/bulk", method: "POST" } }, body);
        });
      }
    }
  }

  // -- audit: verify the hash chain ---------------------------------------------------------------------
  function wireVerify() {
    const button = document.getElementById("verify-button");
    if (!button) return;
    button.addEventListener("click", async () => {
      clearError();
      const out = document.getElementById("verify-result");
      try {
        const result = await call("/v1/audit/verify", "POST", {});
        out.dataset.state = result.ok ? "ok" : "broken";
        out.textContent = result.ok ? out.dataset.ok + " (" + result.records + " " + out.dataset.records + ")"
                                    : out.dataset.broken + ": #" + result.broken_seq;
        out.hidden = false;
      } catch (err) { fail(err); }
    });
  }

  // -- dashboard: refresh the live counters every 30 s --------------------------------------------------
  function dashboardPage() {
    setInterval(async () => {
      try {
        const live = await call("/v1/reports/live", "GET");
        for (const cell of document.querySelectorAll("[data-counter]")) {
          const [w, c] = cell.dataset.counter.split(".");
          if (live.windows[w] && c in live.windows[w]) cell.textContent = live.windows[w][c];
        }
      } catch (err) { /* the next round tries again */ }
    }, 30000);
  }

  window.mamoriConsole = Object.freeze({ call: call });  // for the pages' own scripts (aml.js)

  document.addEventListener("DOMContentLoaded", () => {
    const logout = document.getElementById("logout-button");
    if (logout) {
      logout.addEventListener("click", () => call("/console/api/logout", "POST", {}).then((r) => go(r.redirect), fail));
    }
    wireApi();
    wireVerify();
    const page = document.querySelector("[data-page]");
    if (!page) return;
    const handlers = { login: loginPage, enrol: enrolPage, dashboard: dashboardPage };
    if (handlers[page.dataset.page]) handlers[page.dataset.page](page);
  });
})();
