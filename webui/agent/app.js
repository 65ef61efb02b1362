// The appliance's main page: YubiKeys and their slots, key set-up, and the "Provision a New
// Slot" wizard (feature A-3). Everything goes through the JSON API (api.js).
import { api } from "./api.js";
import { startWizard, resumeWizard } from "./wizard.js";
import { closeDialog, dialog, el, errorText, field, message, pinInput, show } from "./ui.js";

const STATE_TEXT = {
  empty: "empty",
  key_generated: "key generated, no certificate",
  key_imported: "key imported, no certificate",
  csr_pending: "waiting for the signed certificate",
  provisioned: "provisioned",
  foreign: "in use (not provisioned here)",
};

function keyText(k) {
  return k ? `${k.algorithm} (${k.origin}, PIN ${k.pin_policy}, touch ${k.touch_policy})` : "—";
}

async function viewCertificate(serial, slot) {
  try {
    const v = await api("GET", `/api/keys/${serial}/slots/${slot}`);
    const d = v.details || {};
    const rows = [["Subject", d.subject], ["Issuer", d.issuer], ["Serial", d.serial],
                  ["Valid from", d.not_before], ["Valid until", d.not_after],
                  ["Key", d.key_type + (d.rsa_bits ? ` ${d.rsa_bits} bits` : "")],
                  ["CA", d.is_ca ? `yes${d.path_len !== undefined ? `, path length ${d.path_len}` : ""}` : "no"],
                  ["SHA-256", d.sha256_fingerprint],
                  ["Extensions", (d.extensions || []).map((e) => e.oid + (e.critical ? " (critical)" : "")).join(", ")]];
    dialog(`Slot ${slot} of YubiKey ${serial}`, el("div", { id: "certificate-view" },
      v.certificate
        ? el("table", {}, rows.map(([k, val]) => el("tr", {}, el("th", { text: k }), el("td", { text: val || "" }))))
        : el("p", { class: "muted", text: "This slot has no certificate." }),
      v.certificate ? el("pre", { id: "certificate-pem", text: v.certificate }) : null,
      v.csr ? el("div", {}, el("h2", { text: "Certificate request" }), el("pre", { text: v.csr })) : null));
  } catch (e) {
    message(errorText(e), "error");
  }
}

function clearSlot(serial, slot) {
  const pin = pinInput("clear-pin");
  const confirm = el("input", { id: "clear-confirm", autocomplete: "off" });
  const err = el("p", { class: "error", hidden: true });
  dialog(`Clear slot ${slot}?`, el("form", {
    id: "clear-form",
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("DELETE", `/api/keys/${serial}/slots/${slot}`, { pin: pin.value, confirm: confirm.value });
        closeDialog();
        message(`Slot ${slot} of YubiKey ${serial} was cleared.`);
        keysView();
      } catch (e) {
        err.textContent = errorText(e);
        err.hidden = false;
      }
    },
  }, el("p", { text: "The key and the certificate in this slot are destroyed. This cannot be undone." }),
     field(`Type the slot name (${slot}) to confirm`, confirm), field("PIN", pin),
     el("button", { type: "submit", class: "danger", id: "clear-submit", text: "Clear Slot" }), err));
}

function setupForm(key) {
  const ids = ["setup-pin", "setup-new-pin", "setup-puk", "setup-new-puk"];
  const [pin, newPin, puk, newPuk] = ids.map((id) => pinInput(`${id}-${key.serial}`));
  const err = el("p", { class: "error", hidden: true });
  return el("form", {
    class: "setup-form",
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", `/api/keys/${key.serial}/setup`, { pin: pin.value, new_pin: newPin.value,
                                                             puk: puk.value, new_puk: newPuk.value });
        message(`YubiKey ${key.serial} is set up: new PIN and PUK, PIN-protected management key.`);
        keysView();
      } catch (e) {
        err.textContent = errorText(e);
        err.hidden = false;
      }
    },
  }, el("p", { class: "error", text: "This key still has its factory PIN, PUK or management key. It is not used until they are changed." }),
     el("div", { class: "row" }, field("Current PIN", pin), field("New PIN", newPin)),
     el("div", { class: "row" }, field("Current PUK", puk), field("New PUK", newPuk)),
     el("button", { type: "submit", text: "Set up this key" }), err);
}

// "Unlock for signing": slots whose PIN policy is once or always sign for the relay only while
// the agent keeps the PIN (locked memory, until the key is pulled out or the agent restarts).
function signingControls(key) {
  if (!key.set_up) return null;
  if (key.signing_unlocked) {
    return el("div", { class: "row signing" },
      el("p", { class: "ok", text: "Unlocked for signing: the relay may use slots whose PIN policy is once or always." }),
      el("button", { class: "secondary", text: "Lock", onclick: async () => {
        try {
          await api("POST", `/api/keys/${key.serial}/lock`, {});
          keysView();
        } catch (e) {
          message(errorText(e), "error");
        }
      } }));
  }
  const pin = pinInput(`unlock-pin-${key.serial}`);
  const err = el("p", { class: "error", hidden: true });
  return el("form", {
    class: "signing",
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", `/api/keys/${key.serial}/unlock`, { pin: pin.value });
        message(`YubiKey ${key.serial} is unlocked for signing until it is removed or the agent restarts.`);
        keysView();
      } catch (e) {
        err.textContent = errorText(e);
        err.hidden = false;
      }
    },
  }, el("div", { class: "row" }, field("PIN (for signatures of slots with PIN policy once or always)", pin),
     el("button", { type: "submit", text: "Unlock for signing" })), err);
}

function slotRows(key) {
  const used = key.slots.filter((s) => s.state !== "empty");
  if (!used.length) return el("p", { class: "muted", text: "No configured slots." });
  return el("table", { class: "slots" },
    el("tr", {}, ["Slot", "Key", "State", ""].map((h) => el("th", { text: h }))),
    used.map((s) => el("tr", { "data-slot": s.slot },
      el("td", { text: s.slot }), el("td", { text: keyText(s.key) }),
      el("td", { class: "slot-state", text: STATE_TEXT[s.state] || s.state }),
      el("td", {},
        s.certificate ? el("button", { class: "secondary", text: "View Certificate",
                                       onclick: () => viewCertificate(key.serial, s.slot) }) : null,
        ["key_generated", "key_imported", "csr_pending"].includes(s.state)
          ? el("button", { text: "Complete Provisioning", onclick: () => resumeWizard(key.serial, s.slot, s.state) })
          : null,
        el("button", { class: "danger", text: "Clear Slot", onclick: () => clearSlot(key.serial, s.slot) })))));
}

export async function keysView() {
  let data;
  try {
    data = await api("GET", "/api/keys");
  } catch (e) {
    message(errorText(e), "error");
    return;
  }
  const reload = el("button", {
    id: "reload", class: "secondary", text: "Reload",
    onclick: async () => {
      try {
        await api("POST", "/api/keys/reload", {});
        message("");
        keysView();
      } catch (e) {
        message(errorText(e), "error");
      }
    },
  });
  const sections = data.keys.map((k) => el("section", { class: "key", "data-serial": String(k.serial) },
    el("h2", { text: `YubiKey ${k.serial}` }),
    el("p", { class: "muted", text: `firmware ${k.version || "?"} · ${k.reader} · PIN retries ${k.pin_retries ?? "?"}` }),
    k.set_up ? null : setupForm(k),
    signingControls(k),
    el("h2", { text: "Configured Slots…" }), slotRows(k)));
  show(el("div", {}, el("div", { class: "toolbar" }, el("h2", { text: "YubiKeys" }), reload),
    sections.length ? sections : el("p", { class: "muted", id: "no-keys", text: "No YubiKey is plugged in." })));
}

function passwordView() {
  const cur = el("input", { id: "pw-current", type: "password", autocomplete: "current-password" });
  const next = el("input", { id: "pw-new", type: "password", autocomplete: "new-password" });
  const err = el("p", { class: "error", hidden: true });
  show(el("section", {}, el("h2", { text: "Change the admin password" }), el("form", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", "/api/password", { current: cur.value, new: next.value });
        message("Password changed. Other sessions were logged out.");
        keysView();
      } catch (e) {
        err.textContent = errorText(e);
        err.hidden = false;
      }
    },
  }, field("Current password", cur), field("New password", next),
     el("button", { type: "submit", text: "Change password" }), err)));
}

document.getElementById("nav-keys").addEventListener("click", () => { message(""); keysView(); });
document.getElementById("nav-wizard").addEventListener("click", () => { message(""); startWizard(); });
document.getElementById("nav-password").addEventListener("click", () => { message(""); passwordView(); });
document.getElementById("dialog-close").addEventListener("click", closeDialog);
document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/logout", {});
  } finally {
    window.location.assign("/login.html");
  }
});

keysView();
