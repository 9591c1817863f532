// webauthn.js: the passkey ceremonies of the sign-in, second-factor and
// account pages. Served from /static under the pages' CSP (script-src
// 'self'); no page needs it for password sign-in.
//
// A form marked data-webauthn="get" or "create" holds hidden inputs
// csrf_token, handle and credential, a button marked data-webauthn-start
// (hidden until this script finds WebAuthn) and an element marked
// data-webauthn-error. Pressing the button asks data-options (POST, the
// form's csrf_token and req) for a challenge, runs the ceremony, writes
// the authenticator's answer into credential and submits the form: the
// server verifies it like any other form post. A "get" form marked
// data-conditional also offers the passkeys in the email field's
// autofill (conditional mediation) where the browser supports it.
(function () {
  "use strict";

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // decodeOptions turns the JSON the server sent into what the browser's
  // API takes: the binary members are base64url there.
  function decodeOptions(kind, o) {
    var pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    if (kind === "create") {
      pk.user.id = b64urlToBuf(pk.user.id);
      (pk.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    } else {
      (pk.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    }
    return pk;
  }

  // encodeCredential is the JSON the server parses (WebAuthn Level 3
  // PublicKeyCredential.toJSON, written out for browsers without it).
  function encodeCredential(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: bufToB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bufToB64url(r.authenticatorData);
      out.response.signature = bufToB64url(r.signature);
      if (r.userHandle) out.response.userHandle = bufToB64url(r.userHandle);
    }
    return JSON.stringify(out);
  }

  function field(form, name) { return form.querySelector('input[name="' + name + '"]'); }

  function challenge(form) {
    var body = new URLSearchParams();
    body.set("csrf_token", field(form, "csrf_token").value);
    var req = field(form, "req");
    if (req) body.set("req", req.value);
    return fetch(form.getAttribute("data-options"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (resp) {
      if (!resp.ok) throw new Error("The sign-in service refused to start (" + resp.status + "). Reload the page and try again.");
      return resp.json();
    });
  }

  function showError(form, msg) {
    var el = form.querySelector("[data-webauthn-error]");
    if (el) { el.textContent = msg; el.hidden = false; }
  }

  function ceremony(form, mediation, signal) {
    var kind = form.getAttribute("data-webauthn");
    return challenge(form).then(function (c) {
      var opts = { publicKey: decodeOptions(kind, c.options) };
      if (mediation) opts.mediation = mediation;
      if (signal) opts.signal = signal;
      var p = kind === "create" ? navigator.credentials.create(opts) : navigator.credentials.get(opts);
      return p.then(function (cred) {
        if (!cred) throw new Error("No passkey was chosen.");
        field(form, "handle").value = c.handle;
        field(form, "credential").value = encodeCredential(cred);
        form.submit();
      });
    });
  }

  function explain(err) {
    if (err && err.name === "NotAllowedError") return "The passkey request was cancelled or timed out. Try again.";
    if (err && err.name === "InvalidStateError") return "This passkey is already registered with your account.";
    return (err && err.message) || "The passkey did not work. Try again.";
  }

  if (!window.PublicKeyCredential || !navigator.credentials) return;
  var conditional = null;
  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var btn = form.querySelector("[data-webauthn-start]");
    if (btn) {
      btn.hidden = false;
      btn.addEventListener("click", function (ev) {
        ev.preventDefault();
        if (conditional) { conditional.abort(); conditional = null; }
        ceremony(form).catch(function (err) { showError(form, explain(err)); });
      });
    }
    if (form.hasAttribute("data-conditional") && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) return;
        conditional = new AbortController();
        ceremony(form, "conditional", conditional.signal).catch(function () { /* the user chose a password */ });
      });
    }
  });
})();
