// mamori console, compliance pages (STR drafts, AML lists, traces): forms whose fields have dotted names
// ("filing.place") become nested JSON sections, file uploads sent as the request body, the address
// screening form, and errors shown with their meaning (four eyes, locked report, the fields a 422 names).
// Every call goes to this origin with the session's CSRF token; the server checks the role on each one.
"use strict";

(function () {
  const strings = () => (document.getElementById("aml-strings") || { dataset: {} }).dataset;
  const base = () => (document.getElementById("strings") || { dataset: {} }).dataset;

  const send = (url, method, body, contentType) => window.mamoriConsole.call(url, method, body, contentType);

  function say(text) {
    const box = document.getElementById("status");
    if (box) box.textContent = text || "";
  }

  function clearError() {
    const box = document.getElementById("error");
    if (box) { box.hidden = true; box.textContent = ""; box.dataset.code = ""; }
  }

  // The error's meaning in the operator's language, then the server's own message (JA/EN in the text).
  function fail(err) {
    const s = strings();
    const b = base();
    const box = document.getElementById("error");
    const code = (err && err.code) || "";
    let text = s.errorGeneric || b.errorGeneric || "Error";
    if (code === "mamori.actions.four_eyes") text = s.errorFourEyes;
    else if (code === "mamori.str.locked") text = s.errorLocked;
    else if (code === "mamori.api.conflict") text = s.errorConflict;
    else if (code === "mamori.auth.csrf") text = b.errorCsrf;
    else if (code === "mamori.auth.forbidden") text = b.errorForbidden;
    else if (code === "mamori.auth.unauthenticated") text = b.errorSession;
    if (err && err.message && err.status !== 401) text += " — " + err.message;
    if (Array.isArray(err && err.details)) {
      const fields = err.details.filter((d) => d && d.field).map((d) => d.field + ": " + (d.message || ""));
      if (fields.length) text += " [" + fields.slice(0, 10).join("; ") + "]";
    }
    box.textContent = text;
    box.dataset.code = code || (err && err.name) || "";
    box.hidden = false;
    say("");
  }

  function go(path) {
    if (typeof path === "string" && path.startsWith("/console/") && !path.startsWith("//")) window.location.assign(path);
  }

  function done(el, result) {
    say(base().saved || "");
    const next = el.dataset.next;
    if (next && result && result.id !== undefined) go(next.replace("{id}", String(result.id)));
    else window.location.reload();
  }

  function convert(el, value) {
    const type = el.dataset.type;
    if (type === "int") return parseInt(value, 10);
    if (type === "json") return JSON.parse(value);
    if (type === "bool") return value === "true";
    if (type === "datetime") return (value.length === 16 ? value + ":00" : value) + "+09:00";
    return value;
  }

  // Fields named "a.b" go to body.a.b; empty fields are null when data-keep-null="1", left out otherwise.
  // Checkboxes with data-type="int-list" collect the checked values into one list.
  function formBody(form) {
    const body = {};
    for (const el of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      if (el.type === "file") continue;
      const path = el.name.split(".");
      let target = body;
      for (const key of path.slice(0, -1)) {
        if (typeof target[key] !== "object" || target[key] === null) target[key] = {};
        target = target[key];
      }
      const key = path[path.length - 1];
      if (el.type === "checkbox") {
        if (el.dataset.type === "int-list") {
          if (!Array.isArray(target[key])) target[key] = [];
          if (el.checked) target[key].push(parseInt(el.value, 10));
        } else target[key] = el.checked;
        continue;
      }
      const value = el.dataset.type === "json" ? el.value : el.value.trim();
      if (value.trim() === "") {
        if (el.dataset.keepNull) target[key] = null;
        continue;
      }
      target[key] = convert(el, value);
    }
    return body;
  }

  async function submit(el, body) {
    if (el.dataset.confirm && !window.confirm(base().confirm || "OK?")) return;
    clearError();
    say(base().working || "");
    try {
      done(el, await send(el.dataset.jsonApi, el.dataset.method || "POST", body));
    } catch (err) { fail(err); }
  }

  function wireForms() {
    for (const form of document.querySelectorAll("form[data-json-api]")) {
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        let body;
        try { body = formBody(form); } catch (err) { fail({ code: "", message: String(err) }); return; }
        submit(form, body);
      });
    }
    for (const button of document.querySelectorAll("button[data-json-api]")) {
      button.addEventListener("click", () => submit(button, button.dataset.body ? JSON.parse(button.dataset.body) : {}));
    }
  }

  // <form data-upload="/v1/aml/lists/import">: the chosen file is the body; the form's other fields and the
  // file's name are the query string.
  function wireUploads() {
    for (const form of document.querySelectorAll("form[data-upload]")) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const file = form.querySelector("input[type=file]").files[0];
        if (!file) return;
        const query = new URLSearchParams();
        for (const el of form.querySelectorAll("input[name]:not([type=file]), select[name]")) {
          if (el.value.trim() !== "") query.set(el.name, el.value.trim());
        }
        if (form.dataset.filename) query.set(form.dataset.filename, file.name);
        clearError();
        say(base().working || "");
        try {
          const data = await file.arrayBuffer();
          const url = form.dataset.upload + (query.toString() ? "?" + query.toString() : "");
          done(form, await send(url, "POST", data, form.dataset.contentType || "application/octet-stream"));
        } catch (err) { fail(err); }
      });
    }
  }

  // The screening form: one address against the lists, the answer shown in a table.
  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    row.appendChild(td);
  }

  function wireScreen() {
    const form = document.getElementById("screen-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearError();
      const out = document.getElementById("screen-result");
      const s = strings();
      try {
        const result = await send("/v1/aml/screen", "POST", formBody(form));
        out.querySelector("[data-field=verdict]").textContent = result.listed ? s.listed : s.notListed;
        out.dataset.listed = result.listed ? "1" : "0";
        const names = JSON.parse(out.dataset.categories || "{}");
        const named = (code) => (code && names[code]) || code;
        out.querySelector("[data-field=category]").textContent = named(result.category) || "—";
        out.querySelector("[data-field=address]").textContent = result.chain + " " + result.address;
        const body = out.querySelector("tbody");
        body.textContent = "";
        for (const hit of result.hits || []) {
          const row = document.createElement("tr");
          row.dataset.category = hit.category;
          cell(row, named(hit.category));
          for (const key of ["source", "confidence", "hops", "name", "reference"]) cell(row, hit[key]);
          body.appendChild(row);
        }
        out.hidden = false;
      } catch (err) { out.hidden = true; fail(err); }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    wireForms();
    wireUploads();
    wireScreen();
  });
})();
