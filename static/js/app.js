// App-wide behaviour: toasts (from Django messages and htmx HX-Trigger "toast" events) and
// live updates over the websocket for elements that ask for them with data-live-topic.
import { connectLive } from "./live.js";

function toast(text, level = "info") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = document.createElement("div");
  el.className = `toast toast-${level}`;
  el.setAttribute("role", "status");
  el.textContent = text;
  box.appendChild(el);
  setTimeout(() => el.remove(), 5000);
}

function fadeServerToasts() {
  document.querySelectorAll("#toasts .toast").forEach((el) => setTimeout(() => el.remove(), 5000));
}

document.addEventListener("toast", (event) => toast(event.detail.value ?? event.detail.text, event.detail.level));
document.addEventListener("htmx:responseError", (event) => {
  if (event.detail.xhr.status >= 500) toast("Something went wrong on the server; nothing was saved.", "error");
});
document.addEventListener("DOMContentLoaded", () => {
  fadeServerToasts();
  const topics = [...document.querySelectorAll("[data-live-topic]")].map((el) => el.dataset.liveTopic);
  if (topics.length) connectLive([...new Set(topics)]);
});

// Declarative behaviours instead of inline handlers (the Content-Security-Policy allows no inline
// script): data-autosubmit on a control submits its form when it changes; data-confirm on a form
// asks before submitting; after a successful htmx request, data-reset-on-success resets the form
// and data-clear-on-success="selector" empties the matching fields.
document.addEventListener("change", (event) => {
  const control = event.target.closest?.("[data-autosubmit]");
  if (control?.form) control.form.requestSubmit();
});
document.addEventListener(
  "submit",
  (event) => {
    const question = event.target.dataset?.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (!event.detail.successful || !form?.dataset) return;
  if ("resetOnSuccess" in form.dataset) form.reset();
  if (form.dataset.clearOnSuccess) form.querySelectorAll(form.dataset.clearOnSuccess).forEach((f) => { f.value = ""; });
});

// data-copy="selector" on a button copies that element's text (a new API token, shown once) or,
// for a form field, its value (webhook URLs on the channel setup form).
document.addEventListener("click", async (event) => {
  const button = event.target.closest?.("[data-copy]");
  if (!button) return;
  const target = document.querySelector(button.dataset.copy);
  if (!target) return;
  const isField = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
  const text = (isField ? target.value : target.textContent).trim();
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    if (isField) {
      target.select(); // no clipboard permission (plain http): select it for Ctrl+C
    } else {
      const range = document.createRange();
      range.selectNodeContents(target);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
    toast("Selected: press Ctrl+C to copy.");
    return;
  }
  button.textContent = "Copied";
  toast("Copied to the clipboard.", "success");
});

window.appToast = toast;
