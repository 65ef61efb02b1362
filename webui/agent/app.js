// Placeholder until the key views land: proves the session works.
const res = await fetch("/api/session", { credentials: "same-origin" });
document.getElementById("main").textContent = res.ok ? "Logged in." : "Not logged in.";
