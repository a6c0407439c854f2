// Keyboard review for the approval queue: j/k move, e edit, a approve, r reject,
// x select, Shift+X select all, Esc leaves a field. Everything also works with the
// mouse and without JavaScript.
(() => {
  let current = 0;
  // The field last edited in each card (by approval id), so `e` returns to it.
  const lastField = new Map();
  const cards = () => Array.from(document.querySelectorAll(".approval-card"));
  const boxes = () => Array.from(document.querySelectorAll("input[name=approval_ids][form=bulk-form]"));

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

  function countSelected() {
    const all = boxes();
    const checked = all.filter((box) => box.checked).length;
    const count = document.getElementById("bulk-count");
    const selectAll = document.getElementById("bulk-select-all");
    if (count) {
      count.hidden = false;
      count.textContent = `${checked} selected`;
    }
    if (selectAll) {
      selectAll.closest(".select-all").hidden = false;
      selectAll.checked = all.length > 0 && checked === all.length;
      selectAll.indeterminate = checked > 0 && checked < all.length;
    }
    return checked;
  }

  function selectAll(checked) {
    boxes().forEach((box) => { box.checked = checked; });
    countSelected();
  }

  // Caret at the end: a reviewer adds to a draft far more often than they retype its start.
  function editAtEnd(field) {
    field.focus();
    const end = field.value.length;
    field.setSelectionRange(end, end);
    if (field.tagName === "TEXTAREA") field.scrollTop = field.scrollHeight;
  }

  function fieldToEdit(card) {
    const editable = "input[name=subject]:not([readonly]), textarea[name=body]:not([readonly])";
    const last = lastField.get(card.dataset.approvalId);
    if (last && card.contains(last) && last.matches(editable)) return last;
    return card.querySelector("textarea[name=body]:not([readonly])") || card.querySelector(editable);
  }

  document.addEventListener("input", (event) => {
    const form = event.target.closest?.(".approve-form");
    if (form) markDirty(form);
  });

  document.addEventListener("change", (event) => {
    if (event.target.id === "bulk-select-all") selectAll(event.target.checked);
    else if (event.target.matches?.("input[name=approval_ids]")) countSelected();
  });

  document.addEventListener("focusin", (event) => {
    const card = event.target.closest?.(".approval-card");
    if (!card) return;
    mark(cards().indexOf(card), false);
    if (event.target.matches("input[name=subject], textarea[name=body]")) {
      lastField.set(card.dataset.approvalId, event.target);
    }
  });

  // Capture phase, so the question comes before htmx (or the browser) sends the form.
  document.addEventListener("submit", (event) => {
    if (event.target.id !== "bulk-form") return;
    const action = event.target.querySelector("select[name=action]")?.value === "reject" ? "Reject" : "Approve";
    const n = countSelected();
    if (n && !window.confirm(`${action} ${n} selected draft${n === 1 ? "" : "s"}?`)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

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
        const field = fieldToEdit(card);
        if (!field) return;
        editAtEnd(field);
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
      case "x": {
        const box = card.querySelector("input[name=approval_ids]");
        if (!box) return;
        box.checked = !box.checked;
        countSelected();
        break;
      }
      case "X": {
        const all = boxes();
        if (!all.length) return;
        selectAll(!all.every((box) => box.checked));
        break;
      }
      default: return;
    }
    event.preventDefault();
  });

  // The queue is swapped outerHTML: the old element (where htmx fires afterSwap) has left
  // the document by then, so that event never reaches this listener. htmx:load fires on
  // the new queue, in the document: the card now at the same place is the next one.
  document.addEventListener("htmx:load", (event) => {
    if (event.target.id !== "approval-queue") return;
    mark(current, true);
    countSelected();
  });
  document.addEventListener("DOMContentLoaded", () => {
    mark(0, false);
    countSelected();
  });
})();
