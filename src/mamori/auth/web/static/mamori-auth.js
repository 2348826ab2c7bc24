// mamori customer pages: passkey sign-in (with autofill / conditional mediation), password + TOTP
// for customers in transition, passkey registration, operation-bound step-up, sessions.
// No third-party code; every call goes to this origin with a JSON body (the server checks Origin).
"use strict";

(function () {
  const strings = () => document.getElementById("strings").dataset;

  // -- base64url <-> ArrayBuffer (WebAuthn JSON encoding, W3C WebAuthn L3 §5.1.8 / §5.1.9) -----------
  function b64urlToBuf(s) {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    const o = Object.assign({}, json, { challenge: b64urlToBuf(json.challenge) });
    o.allowCredentials = (json.allowCredentials || []).map((c) => Object.assign({}, c, { id: b64urlToBuf(c.id) }));
    return o;
  }
  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    const o = Object.assign({}, json, { challenge: b64urlToBuf(json.challenge) });
    o.user = Object.assign({}, json.user, { id: b64urlToBuf(json.user.id) });
    o.excludeCredentials = (json.excludeCredentials || []).map((c) => Object.assign({}, c, { id: b64urlToBuf(c.id) }));
    return o;
  }
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") return cred.toJSON();
    const r = cred.response;
    const response = { clientDataJSON: bufToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bufToB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = bufToB64url(r.authenticatorData);
      response.signature = bufToB64url(r.signature);
      if (r.userHandle) response.userHandle = bufToB64url(r.userHandle);
    }
    return { id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type, response: response,
             authenticatorAttachment: cred.authenticatorAttachment || null,
             clientExtensionResults: cred.getClientExtensionResults() };
  }

  // -- calls and messages ----------------------------------------------------------------------------
  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) || res.statusText);
      err.code = data.error && data.error.code;
      err.status = res.status;
      throw err;
    }
    return data;
  }
  function say(text) {
    document.getElementById("status").textContent = text || "";
  }
  function fail(err) {
    const s = strings();
    const box = document.getElementById("error");
    let text = s.errorGeneric;
    if (err && err.code === "mamori.login.throttled") text = s.errorThrottled;
    else if (err && err.code === "mamori.login.passkey_required") text = s.errorPasskeyRequired;
    else if (err && (err.code === "mamori.webauthn.rejected" || err.name === "NotAllowedError")) text = s.errorPasskey;
    box.textContent = text;
    box.dataset.code = (err && (err.code || err.name)) || "";
    box.hidden = false;
    say("");
  }
  function clearError() {
    const box = document.getElementById("error");
    box.hidden = true;
    box.textContent = "";
    box.dataset.code = "";
  }
  function go(path) {
    if (typeof path === "string" && path.startsWith("/") && !path.startsWith("//")) window.location.assign(path);
  }

  // -- login page ------------------------------------------------------------------------------------
  function loginPage(root) {
    const next = root.dataset.next;
    let conditional = null;

    async function finish(result) {
      if (result.redirect) { go(result.redirect); return; }
      if (result.next === "totp") {
        document.getElementById("password-form").hidden = true;
        const form = document.getElementById("totp-form");
        form.hidden = false;
        form.dataset.flow = result.flow;
        document.getElementById("totp").focus();
      } else if (result.next === "passkey") {
        say(strings().passkeyStep);
        const cred = await navigator.credentials.get({ publicKey: requestOptions(result.publicKey) });
        finish(await post("/auth/api/passkey/step", { flow: result.flow, credential: credentialJSON(cred), next: next }));
      }
    }

    async function passkeyLogin(mediation, signal) {
      const start = await post("/auth/api/passkey/options", {});
      const request = { publicKey: requestOptions(start.publicKey) };
      if (mediation) request.mediation = mediation;
      if (signal) request.signal = signal;
      const cred = await navigator.credentials.get(request);
      if (!cred) return;
      say(strings().working);
      clearError();
      await finish(await post("/auth/api/passkey/login", { flow: start.flow, credential: credentialJSON(cred), next: next }));
    }

    async function startAutofill() {
      if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
      if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
      conditional = new AbortController();
      root.dataset.autofill = "waiting";
      passkeyLogin("conditional", conditional.signal).catch((err) => {
        // Autofill ends quietly when the customer dismisses it or picks nothing (or the page aborts it
        // for the passkey button); a server refusal is shown.
        if (err && (err.name === "AbortError" || err.name === "NotAllowedError")) return;
        fail(err);
      });
    }

    document.getElementById("passkey-button").addEventListener("click", () => {
      clearError();
      if (!window.PublicKeyCredential) { fail({ code: "unsupported" }); say(strings().unsupported); return; }
      if (conditional) conditional.abort();  // one WebAuthn request at a time
      passkeyLogin(null, null).catch(fail).finally(() => { startAutofill(); });
    });

    document.getElementById("password-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      clearError();
      say(strings().working);
      if (conditional) conditional.abort();
      post("/auth/api/password/login", {
        login_id: document.getElementById("login_id").value,
        password: document.getElementById("password").value,
        next: next,
      }).then(finish).catch(fail);
    });

    document.getElementById("totp-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      clearError();
      const form = document.getElementById("totp-form");
      post("/auth/api/totp", { flow: form.dataset.flow, code: document.getElementById("totp").value, next: next })
        .then(finish).catch(fail);
    });

    startAutofill();
  }

  // -- recovery --------------------------------------------------------------------------------------
  function recoverPage(form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      clearError();
      post("/auth/api/recover", {
        login_id: document.getElementById("login_id").value,
        code: document.getElementById("code").value,
      }).then((r) => go(r.redirect)).catch(fail);
    });
  }

  // -- step-up (operation-bound passkey confirmation) ------------------------------------------------
  async function stepUp(id) {
    const start = await post("/auth/api/stepup/" + encodeURIComponent(id) + "/options", {});
    const cred = await navigator.credentials.get({ publicKey: requestOptions(start.publicKey) });
    return post("/auth/api/stepup/" + encodeURIComponent(id) + "/approve", { credential: credentialJSON(cred) });
  }

  function stepupPage(root) {
    const button = document.getElementById("stepup-button");
    if (!button) return;
    button.addEventListener("click", () => {
      clearError();
      button.disabled = true;
      stepUp(root.dataset.stepupId).then(() => {
        root.dataset.status = "approved";
        say(strings().stepupDone);
      }).catch((err) => { button.disabled = false; fail(err); });
    });
  }

  // -- account: passkeys and sessions ----------------------------------------------------------------
  function accountPage(root) {
    const form = document.getElementById("enrol-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearError();
      try {
        const body = {};
        if (form.dataset.hasPasskeys === "yes" && form.dataset.enrolOnly !== "yes") {
          const self = await post("/auth/api/stepup/self", { operation: { kind: "mfa_change", new_value: "passkey:add" } });
          await stepUp(self.id);
          body.stepup_id = self.id;
        }
        const start = await post("/auth/api/enrol/options", body);
        const cred = await navigator.credentials.create({ publicKey: creationOptions(start.publicKey) });
        const done = await post("/auth/api/enrol", {
          flow: start.flow, credential: credentialJSON(cred), name: document.getElementById("passkey-name").value,
        });
        go(done.signed_out ? "/auth/login" : "/auth/account");
      } catch (err) { fail(err); }
    });

    root.querySelectorAll("#passkeys li").forEach((item) => {
      const id = item.dataset.credentialId;
      const rename = item.querySelector(".rename");
      if (rename) rename.addEventListener("click", () => {
        const name = window.prompt(rename.textContent, item.querySelector(".name").textContent);
        if (!name) return;
        post("/auth/api/passkeys/rename", { credential_id: id, name: name }).then(() => go("/auth/account")).catch(fail);
      });
      const remove = item.querySelector(".remove");
      if (remove) remove.addEventListener("click", async () => {
        clearError();
        say(strings().confirmRemove);
        try {
          const self = await post("/auth/api/stepup/self", { operation: { kind: "passkey_remove", credential_id: id } });
          await stepUp(self.id);
          await post("/auth/api/passkeys/remove", { credential_id: id, stepup_id: self.id });
          go("/auth/account");
        } catch (err) { fail(err); }
      });
    });

    root.querySelectorAll("#sessions li .end").forEach((button) => {
      button.addEventListener("click", () => {
        const id = button.closest("li").dataset.sessionId;
        post("/auth/api/sessions/end", { session_id: id }).then(() => go("/auth/account")).catch(fail);
      });
    });
    const logout = document.getElementById("logout-button");
    if (logout) logout.addEventListener("click", () => post("/auth/api/logout", {}).then((r) => go(r.redirect)).catch(fail));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.querySelector("[data-page]");
    if (!page) return;
    ({ login: loginPage, recover: recoverPage, stepup: stepupPage, account: accountPage })[page.dataset.page](page);
  });
})();
