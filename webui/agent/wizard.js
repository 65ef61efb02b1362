// "Provision a New Slot": choose key and slot → generate or import a key → paste the HSM
// provisioning certificate → self-signed root, or a CSR then the signed certificate and chain,
// or a signed certificate. Each step is one API call; a slot left half-way shows "Complete
// Provisioning" in the slot list, which resumes here.
import { api } from "./api.js";
import { el, errorText, field, message, pinInput, show } from "./ui.js";

const SLOTS = ["9a", "9c", "9d", "9e", ...Array.from({ length: 20 }, (_, i) => (0x82 + i).toString(16))];
const STEPS = ["Key and slot", "Key", "Certificate", "Done"];

function frame(step, ...body) {
  return el("section", { id: "wizard", "data-step": String(step) },
    el("h2", { text: "Provision a New Slot" }),
    el("ol", { class: "steps" }, STEPS.map((s, i) => el("li", { class: i === step ? "current" : null, text: s }))),
    ...body);
}

function errorLine() {
  return el("p", { class: "error", id: "wizard-error", role: "alert", hidden: true });
}

function fail(line, e) {
  line.textContent = errorText(e);
  line.hidden = false;
}

function radio(name, value, label, checked) {
  const id = `${name}-${value}`;
  return el("label", { for: id, class: "radio" },
    el("input", { type: "radio", name, value, id, checked }), ` ${label}`);
}

function selected(name) {
  const r = document.querySelector(`input[name="${name}"]:checked`);
  return r ? r.value : null;
}

export async function startWizard() {
  let keys;
  try {
    keys = (await api("GET", "/api/keys")).keys;
  } catch (e) {
    message(errorText(e), "error");
    return;
  }
  const ready = keys.filter((k) => k.set_up);
  if (!ready.length) {
    show(frame(0, el("p", { id: "wizard-nokey", text: "No YubiKey that is set up is plugged in. Plug one in and set it up under YubiKeys first." })));
    return;
  }
  const keySel = el("select", { id: "wizard-key" }, ready.map((k) => el("option", { value: String(k.serial), text: `YubiKey ${k.serial}` })));
  const slotSel = el("select", { id: "wizard-slot" });
  const fillSlots = () => {
    const k = ready.find((x) => String(x.serial) === keySel.value);
    const free = new Set(k.slots.filter((s) => s.state === "empty").map((s) => s.slot));
    slotSel.replaceChildren(...SLOTS.filter((s) => free.has(s)).map((s) => el("option", { value: s, text: s })));
  };
  keySel.addEventListener("change", fillSlots);
  fillSlots();
  show(frame(0,
    el("p", { class: "muted", text: "Only empty slots are offered. The attestation slot f9 is never used." }),
    el("div", { class: "row" }, field("YubiKey", keySel), field("Slot", slotSel)),
    el("button", { id: "wizard-next", text: "Next", onclick: () => keyStep(Number(keySel.value), slotSel.value) })));
}

function keyStep(serial, slot) {
  const err = errorLine();
  const alg = el("select", { id: "gen-algorithm" },
    el("option", { value: "ec-p256", text: "ECC P-256" }), el("option", { value: "ec-p384", text: "ECC P-384" }),
    el("option", { value: "rsa2048", text: "RSA 2048" }));
  const pinPolicy = el("select", { id: "pin-policy" }, ["once", "always", "never"].map((p) => el("option", { value: p, text: p })));
  const touchPolicy = el("select", { id: "touch-policy" }, ["never", "always", "cached"].map((p) => el("option", { value: p, text: p })));
  const keyText = el("textarea", { id: "import-key", placeholder: "-----BEGIN PRIVATE KEY-----" });
  const p12 = el("input", { id: "import-pkcs12", type: "file", accept: ".p12,.pfx" });
  const password = el("input", { id: "import-password", type: "password", autocomplete: "off" });
  const pin = pinInput("key-pin");
  const genBox = el("div", { id: "generate-box" }, el("div", { class: "row" }, field("Algorithm", alg)));
  const impBox = el("div", { id: "import-box", hidden: true },
    field("Private key (PEM: PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1)", keyText),
    field("…or a PKCS#12 file", p12), field("Password of the key or PKCS#12 file", password));
  const submit = el("button", { id: "key-submit", text: "Generate key" });
  const options = el("div", { class: "row" }, radio("key-option", "generate", "Generate on the YubiKey (recommended)", true),
    radio("key-option", "import", "Import (backup, several appliances)", false));
  options.addEventListener("change", () => {
    const gen = selected("key-option") === "generate";
    genBox.hidden = !gen;
    impBox.hidden = gen;
    submit.textContent = gen ? "Generate key" : "Import key";
  });
  submit.addEventListener("click", async () => {
    err.hidden = true;
    submit.disabled = true;
    try {
      const common = { pin: pin.value, pin_policy: pinPolicy.value, touch_policy: touchPolicy.value };
      let r;
      if (selected("key-option") === "generate") {
        r = await api("POST", `/api/keys/${serial}/slots/${slot}/generate`, { ...common, algorithm: alg.value });
      } else {
        const body = { ...common, password: password.value };
        if (p12.files.length) body.pkcs12 = await fileBase64(p12.files[0]);
        else body.key = keyText.value;
        r = await api("POST", `/api/keys/${serial}/slots/${slot}/import-key`, body);
      }
      certificateStep(serial, slot, r.public_key);
    } catch (e) {
      fail(err, e);
    } finally {
      submit.disabled = false;
    }
  });
  show(frame(1, el("p", { text: `YubiKey ${serial}, slot ${slot}` }), options, genBox, impBox,
    el("div", { class: "row" }, field("PIN policy", pinPolicy), field("Touch policy", touchPolicy), field("PIN", pin)),
    submit, err));
}

function fileBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
    r.onerror = () => reject(new Error("cannot read the file"));
    r.readAsDataURL(file);
  });
}

function certificateStep(serial, slot, publicKey) {
  const err = errorLine();
  const template = el("textarea", { id: "template", placeholder: "-----BEGIN CERTIFICATE-----" });
  const signed = el("textarea", { id: "signed-cert", placeholder: "-----BEGIN CERTIFICATE-----" });
  const chain = el("textarea", { id: "chain", placeholder: "issuer certificates up to the root (PEM)" });
  const pin = pinInput("cert-pin");
  const tplBox = el("div", { id: "template-box" }, field("HSM provisioning certificate (from the relay)", template));
  const signedBox = el("div", { id: "signed-box", hidden: true }, field("Signed certificate", signed), field("Chain", chain));
  const modes = el("div", { class: "row" }, radio("mode", "self-signed", "Self-signed root", true),
    radio("mode", "csr", "CSR for an intermediate", false), radio("mode", "import", "Import a signed certificate", false));
  modes.addEventListener("change", () => {
    const imp = selected("mode") === "import";
    tplBox.hidden = imp;
    signedBox.hidden = !imp;
  });
  const submit = el("button", { id: "cert-submit", text: "Continue" });
  submit.addEventListener("click", async () => {
    err.hidden = true;
    submit.disabled = true;
    try {
      const mode = selected("mode");
      if (mode === "import") {
        const r = await api("POST", `/api/keys/${serial}/slots/${slot}/certificate`,
                            { pin: pin.value, certificate: signed.value, chain: chain.value });
        doneStep(serial, slot, r);
      } else {
        const r = await api("POST", `/api/keys/${serial}/slots/${slot}/provision`,
                            { pin: pin.value, template: template.value, mode });
        if (r.state === "confirm_relay") confirmStep(serial, slot, pin.value, template.value, r);
        else if (mode === "csr") csrStep(serial, slot, r.csr);
        else doneStep(serial, slot, r);
      }
    } catch (e) {
      fail(err, e);
    } finally {
      submit.disabled = false;
    }
  });
  show(frame(2, el("p", { text: `YubiKey ${serial}, slot ${slot}` }),
    publicKey ? el("details", {}, el("summary", { text: "Public key" }), el("pre", { id: "public-key", text: publicKey })) : null,
    modes, tplBox, signedBox, field("PIN", pin),
    el("p", { class: "muted", text: "If the slot's touch policy asks for it, touch the YubiKey when it blinks." }),
    submit, err));
}

// The template came from a relay (it carries the relay's link URL, CA, one-time token and the
// fingerprint of the relay's link certificate): the operator compares the fingerprint with the
// one the relay's console shows before anything is sent; the agent then checks the relay's
// signature, enrols with the slot's key and writes the certificate once the relay accepted it.
function confirmStep(serial, slot, pinValue, templatePem, r) {
  const err = errorLine();
  const relay = r.relay;
  const modes = el("div", { class: "row" },
    radio("relay-mode", "self-signed", "Self-signed root", relay.ca_kind === "root"),
    radio("relay-mode", "csr", "CSR for an intermediate (the relay's root or another CA signs it)", relay.ca_kind !== "root"));
  const submit = el("button", { id: "relay-confirm", text: "The fingerprint matches: enrol with this relay" });
  const cancel = el("button", { class: "secondary", id: "relay-cancel", text: "Cancel", onclick: () => certificateStep(serial, slot, null) });
  submit.addEventListener("click", async () => {
    err.hidden = true;
    submit.disabled = true;
    const mode = selected("relay-mode");
    try {
      const res = await api("POST", `/api/keys/${serial}/slots/${slot}/provision`,
                            { pin: pinValue, template: templatePem, mode, confirm_fingerprint: relay.fingerprint });
      if (mode === "csr") csrStep(serial, slot, res.csr, relay);
      else doneStep(serial, slot, res);
    } catch (e) {
      fail(err, e);
    } finally {
      submit.disabled = false;
    }
  });
  const rows = [["Subject", r.subject], ["Relay", relay.link_url], ["CA", `${relay.ca_id} (${relay.ca_kind})`],
    ["Token valid until", relay.token_expires]];
  show(frame(2, el("p", { text: `YubiKey ${serial}, slot ${slot}: this HSM provisioning certificate comes from a relay.` }),
    el("table", { id: "relay-details" }, rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v || "" })))),
    el("p", { text: "Compare this fingerprint with the one the relay's console shows for its link certificate:" }),
    el("pre", { id: "relay-fingerprint", text: relay.fingerprint.match(/.{1,2}/g).join(":") }),
    modes, el("div", { class: "row" }, submit, cancel), err));
}

function csrStep(serial, slot, csr, relay) {
  const err = errorLine();
  const signed = el("textarea", { id: "signed-cert", placeholder: "-----BEGIN CERTIFICATE-----" });
  const chain = el("textarea", { id: "chain", placeholder: "issuer certificates up to the root (PEM)" });
  const pin = pinInput("complete-pin");
  const submit = el("button", { id: "complete-submit", text: "Complete Provisioning" });
  submit.addEventListener("click", async () => {
    err.hidden = true;
    submit.disabled = true;
    try {
      const r = await api("POST", `/api/keys/${serial}/slots/${slot}/certificate`,
                          { pin: pin.value, certificate: signed.value, chain: chain.value });
      doneStep(serial, slot, r);
    } catch (e) {
      fail(err, e);
    } finally {
      submit.disabled = false;
    }
  });
  const where = relay
    ? `The relay (CA ${relay.ca_id}) holds this request: have it signed there (or by the issuing CA), import the signed certificate on the relay, and paste it and its chain here.`
    : "Have this request signed by the issuing CA, then paste the certificate and its chain.";
  show(frame(2, el("p", { id: "csr-where", text: `YubiKey ${serial}, slot ${slot}: ${where}` }),
    field("Certificate request (copy it)", el("textarea", { id: "csr-output", readonly: true }, csr)),
    field("Signed certificate", signed), field("Chain up to the root", chain), field("PIN", pin), submit, err));
}

async function doneStep(serial, slot, r) {
  let view = r;
  try {
    view = await api("GET", `/api/keys/${serial}/slots/${slot}`);
  } catch (e) { /* show what we have */ }
  const d = view.details || r.details || {};
  show(frame(3, el("p", { class: "ok", id: "wizard-done", text: `Slot ${slot} of YubiKey ${serial} is provisioned.` }),
    el("table", {}, [["Subject", d.subject], ["Issuer", d.issuer], ["Valid until", d.not_after], ["SHA-256", d.sha256_fingerprint]]
      .map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v || "" })))),
    view.certificate ? el("pre", { id: "result-cert", text: view.certificate }) : null,
    el("button", { id: "wizard-finish", text: "Back to YubiKeys", onclick: () => document.getElementById("nav-keys").click() })));
}

export async function resumeWizard(serial, slot, state) {
  message("");
  if (state === "csr_pending") {
    try {
      const v = await api("GET", `/api/keys/${serial}/slots/${slot}`);
      csrStep(serial, slot, v.csr, v.relay);
    } catch (e) {
      message(errorText(e), "error");
    }
    return;
  }
  certificateStep(serial, slot, null);
}
