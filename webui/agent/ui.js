// Small DOM helpers: build elements without innerHTML (nothing pasted is ever parsed as HTML).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function field(label, input) {
  return el("div", {}, el("label", { for: input.id, text: label }), input);
}

export function show(node) {
  const view = document.getElementById("view");
  view.replaceChildren(node);
}

export function message(text, kind = "ok") {
  const m = document.getElementById("message");
  if (!text) {
    m.hidden = true;
    return;
  }
  m.textContent = text;
  m.className = kind;
  m.hidden = false;
}

export function errorText(e) {
  if (e && e.retries !== undefined && e.retries !== null && e.code === "wrong_pin")
    return `${e.message}`;
  return (e && e.message) || String(e);
}

export function dialog(title, body) {
  const d = document.getElementById("dialog");
  document.getElementById("dialog-body").replaceChildren(el("h2", { text: title }), body);
  if (!d.open) d.showModal();
  return d;
}

export function closeDialog() {
  const d = document.getElementById("dialog");
  if (d.open) d.close();
}

export function pinInput(id) {
  return el("input", { id, type: "password", inputmode: "numeric", autocomplete: "off",
                       minlength: "6", maxlength: "8" });
}
