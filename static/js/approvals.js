// Keyboard review for the approval queue: j/k move, e edit, a approve, r reject,
// Esc leaves a field. Everything also works with the mouse and without JavaScript.
(() => {
  let current = 0;
  const cards = () => Array.from(document.querySelectorAll(".approval-card"));

  function mark(index, focus) {
    const list = cards();
    if (!list.length) return;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach((card, i) => card.classList.toggle("is-current", i === current));
    if (focus) {
      list[current].focus({ preventScroll: true });
      list[current].scrollIntoView({ block: "nearest" });
    }
  }

  function markDirty(form) {
    const button = form.querySelector("[data-approve]");
    if (!button) return;
    const dirty = Array.from(form.querySelectorAll("input[name=subject], textarea[name=body]"))
      .some((field) => field.value !== field.defaultValue);
    button.textContent = dirty ? "Edit & approve" : "Approve";
  }

  document.addEventListener("input", (event) => {
    const form = event.target.closest?.(".approve-form");
    if (form) markDirty(form);
  });

  document.addEventListener("focusin", (event) => {
    const card = event.target.closest?.(".approval-card");
    if (card) mark(cards().indexOf(card), false);
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.matches?.("input, textarea, select")) {
      if (event.key === "Escape") {
        target.blur();
        mark(current, true);
      }
      return;
    }
    const card = cards()[current];
    if (!card) return;
    switch (event.key) {
      case "j": mark(current + 1, true); break;
      case "k": mark(current - 1, true); break;
      case "e": {
        const field = card.querySelector("input[name=subject]:not([readonly]), textarea[name=body]:not([readonly])");
        if (!field) return;
        field.focus();
        break;
      }
      case "a": {
        const button = card.querySelector("[data-approve]:not([disabled])");
        if (!button) return;
        button.click();
        break;
      }
      case "r": {
        const reason = card.querySelector(".reject-form input[name=reason]");
        if (!reason) return;
        if (reason.value.trim()) reason.form.querySelector("[data-reject]").click();
        else reason.focus();
        break;
      }
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target?.id === "approval-queue" || document.getElementById("approval-queue")) mark(current, true);
  });
  document.addEventListener("DOMContentLoaded", () => mark(0, false));
})();
