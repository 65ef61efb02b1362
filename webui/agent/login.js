// The login page: posts the admin password, then goes to the appliance's main page.
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  const password = document.getElementById("password").value;
  let res;
  try {
    res = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ password }),
      credentials: "same-origin",
    });
  } catch (e) {
    error.textContent = "The appliance does not answer.";
    error.hidden = false;
    return;
  }
  if (res.ok) {
    await res.json().catch(() => null); // finish reading before leaving the page
    window.location.assign("/");
    return;
  }
  let message = "Login failed.";
  try {
    message = (await res.json()).error.message;
  } catch (e) { /* keep the generic text */ }
  error.textContent = message;
  error.hidden = false;
});
